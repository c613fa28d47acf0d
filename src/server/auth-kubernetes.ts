import { createHash } from 'node:crypto';
import { NodeCaError, errorMessage } from '../lib/errors.js';
import { createDecisionCache, createInFlightReviews, type DecisionCache, type InFlightReviews } from './auth-cache.js';
import {
  accessGroup,
  missingToken,
  type AccessRequest,
  type AccessReviewResult,
  type AccessReviewer,
  type Authorizer,
  type TokenReviewResult,
} from './auth.js';

export interface KubernetesAuthOptions {
  readonly reviewer: AccessReviewer;
  /** `server.auth.audiences`; empty: the API server's own audience. */
  readonly audiences: readonly string[];
  /** The SubjectAccessReview `name`, so RBAC `resourceNames` can limit a caller to some nodes. */
  readonly nodeName: string;
  readonly allowedTtlMs?: number;
  readonly deniedTtlMs?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/**
 * `auth.mode: kubernetes`: TokenReview, then SubjectAccessReview on
 * `node-ca.alauda.io`. Both answers are cached briefly, keyed by the token's
 * SHA-256 (the token itself is never kept as a key): a fleet backup polls
 * each agent every 500 ms, and two API round trips per poll would be waste.
 * Denied answers expire sooner than allowed ones, so a new RoleBinding is
 * seen quickly. Requests with the same key that arrive while its review is
 * asked wait for that one call. An API error is never cached and never
 * allows: 503, for every request that waited on the failed call.
 */
export function createKubernetesAuthorizer(options: KubernetesAuthOptions): Authorizer {
  const cacheOptions = {
    max: options.maxEntries ?? 1000,
    ...(options.now === undefined ? {} : { now: options.now }),
  };
  const allowed = options.allowedTtlMs ?? 10_000;
  const denied = options.deniedTtlMs ?? 5_000;
  const reviews = <T>(ttlMs: (answer: T) => number): Reviews<T> => ({
    answers: createDecisionCache({ ...cacheOptions, ttlMs }),
    asking: createInFlightReviews(cacheOptions.max),
  });
  const tokens = reviews<TokenReviewResult>((r) => (r.authenticated ? allowed : denied));
  const access = reviews<AccessReviewResult>((r) => (r.allowed ? allowed : denied));

  return async (request: AccessRequest) => {
    if (request.token === undefined) throw missingToken();
    const key = createHash('sha256').update(request.token).digest('hex');
    const token = request.token;
    const review = await cached(tokens, key, token, () => options.reviewer.reviewToken(token, options.audiences));
    if (!review.authenticated) throw new NodeCaError('UNAUTHENTICATED', 'the bearer token was not authenticated by the Kubernetes API');
    const { user } = review;
    const accessKey = `${key} ${request.resource} ${request.verb}`;
    const attributes = {
      user: user.username,
      uid: user.uid,
      groups: user.groups,
      extra: user.extra,
      group: accessGroup,
      resource: request.resource,
      verb: request.verb,
      name: options.nodeName,
    };
    const decision = await cached(access, accessKey, token, () => options.reviewer.reviewAccess(attributes));
    if (!decision.allowed) throw forbidden(user.username, request, options.nodeName);
    return { user: user.username };
  };
}

function forbidden(user: string, request: AccessRequest, node: string): NodeCaError {
  return new NodeCaError(
    'FORBIDDEN',
    `user "${user}" may not ${request.verb} ${request.resource}.${accessGroup} "${node}"`,
    { details: { group: accessGroup, resource: request.resource, verb: request.verb, name: node } },
  );
}

/** One kind of review: its cached answers and the calls asking it right now. */
interface Reviews<T> {
  readonly answers: DecisionCache<T>;
  readonly asking: InFlightReviews<T>;
}

async function cached<T>(reviews: Reviews<T>, key: string, token: string, call: () => Promise<T>): Promise<T> {
  const hit = reviews.answers.get(key);
  if (hit !== undefined) return hit;
  try {
    // Cached inside the shared call: a request arriving after it settles finds the answer.
    return await reviews.asking.run(key, async () => {
      const answer = await call();
      reviews.answers.set(key, answer);
      return answer;
    });
  } catch (err) {
    // The cause is logged: an API error can echo the TokenReview body, token included.
    const cause = new Error(errorMessage(err).split(token).join('[redacted]'));
    throw new NodeCaError('AUTH_UNAVAILABLE', 'cannot review the request with the Kubernetes API; try again later', { cause });
  }
}
