/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- client-node's models are classes used as plain shapes: its serializer reads fields, never prototypes, and its own docs pass object literals. */
import type { V1TokenReviewStatus } from '@kubernetes/client-node';
import { NodeCaError } from '../lib/errors.js';
import type { Metrics } from '../lib/metrics.js';
import { withDeadline, type KubeClient } from './client.js';
import { describeApiError } from './errors.js';

/** Who a bearer token belongs to, as the API server says (TokenReview). */
export interface TokenReviewResult {
  readonly authenticated: boolean;
  readonly user?: {
    readonly username: string;
    readonly uid: string;
    readonly groups: readonly string[];
    readonly extra: Readonly<Record<string, readonly string[]>>;
  };
  /** Audiences the token is valid for (a subset of those asked). */
  readonly audiences: readonly string[];
  /** The server's reason when not authenticated. */
  readonly error?: string;
}

/** One SubjectAccessReview question: may `user` do `verb` on `resource` `name` in `group`? */
export interface AccessReviewRequest {
  readonly user: string;
  readonly groups?: readonly string[];
  readonly uid?: string;
  readonly extra?: Readonly<Record<string, readonly string[]>>;
  /** API group of the (virtual) resource; node-ca uses `node-ca.alauda.io`. */
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
  /** The node name, so RBAC `resourceNames` can limit a caller to some nodes. */
  readonly name?: string;
}

export interface AccessReviewResult {
  readonly allowed: boolean;
  readonly reason?: string;
}

export interface Reviewer {
  /** TokenReview. Throws NodeCaError AUTH_UNAVAILABLE (503) when the API cannot answer. */
  reviewToken(req: { token: string; audiences?: readonly string[] }): Promise<TokenReviewResult>;
  /** SubjectAccessReview. Throws NodeCaError AUTH_UNAVAILABLE (503) when the API cannot answer. */
  reviewAccess(req: AccessReviewRequest): Promise<AccessReviewResult>;
}

/** TokenReview and SubjectAccessReview, for the server's `kubernetes` auth mode (callers cache). */
export function createReviewer(client: KubeClient, metrics?: Metrics): Reviewer {
  const unavailable = (operation: string, err: unknown) => {
    metrics?.apiErrors.inc({ operation });
    return new NodeCaError(
      'AUTH_UNAVAILABLE',
      `cannot reach the Kubernetes API for ${operation}: ${describeApiError(err)}`,
      { cause: err },
    );
  };
  return {
    async reviewToken({ token, audiences = [] }) {
      const review = await client.authentication
        .createTokenReview(
          {
            body: {
              apiVersion: 'authentication.k8s.io/v1',
              kind: 'TokenReview',
              spec: { token, audiences: [...audiences] },
            },
          },
          withDeadline(),
        )
        .catch((err: unknown) => {
          throw unavailable('tokenreview', err);
        });
      return tokenReviewResult(review.status ?? {});
    },
    async reviewAccess(req) {
      const body = {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: req.user,
          groups: req.groups === undefined ? undefined : [...req.groups],
          uid: req.uid,
          extra:
            req.extra === undefined
              ? undefined
              : Object.fromEntries(Object.entries(req.extra).map(([k, v]) => [k, [...v]])),
          resourceAttributes: {
            group: req.group,
            resource: req.resource,
            verb: req.verb,
            name: req.name,
          },
        },
      };
      const review = await client.authorization
        .createSubjectAccessReview({ body }, withDeadline())
        .catch((err: unknown) => {
          throw unavailable('subjectaccessreview', err);
        });
      const allowed = review.status?.allowed === true && review.status.denied !== true;
      const reason = review.status?.reason;
      return reason === undefined || reason === '' ? { allowed } : { allowed, reason };
    },
  };
}

/** A TokenReview status as node-ca's result: authenticated only with a username; absent fields are empty. */
function tokenReviewResult(s: V1TokenReviewStatus): TokenReviewResult {
  if (s.authenticated !== true || s.user?.username === undefined)
    return { authenticated: false, audiences: [], error: s.error ?? 'not authenticated' };
  const user = {
    username: s.user.username,
    uid: s.user.uid ?? '',
    groups: s.user.groups ?? [],
    extra: s.user.extra ?? {},
  };
  return { authenticated: true, user, audiences: s.audiences ?? [] };
}
