import type { FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { NodeCaError } from '../lib/errors.js';
import { isLoopbackAddress } from '../lib/net.js';
import type { ApiResource, ApiVerb } from './app.js';

/** The virtual API group of SubjectAccessReviews (SPEC "Authentication and authorization"). */
export const accessGroup = 'node-ca.alauda.io';

/** What a request asks for, once its route is known. */
export interface AccessRequest {
  /** The bearer token, if the caller sent one. */
  readonly token: string | undefined;
  readonly resource: Exclude<ApiResource, 'public'>;
  readonly verb: ApiVerb;
}

/** Decides one request: resolves with the caller's name when allowed, throws a NodeCaError (401/403/503) otherwise. */
export type Authorizer = (request: AccessRequest) => Promise<{ user: string }>;

/** The user a TokenReview authenticated. */
export interface ReviewedUser {
  readonly username: string;
  readonly uid?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  readonly extra?: Readonly<Record<string, readonly string[]>> | undefined;
}

export type TokenReviewResult =
  | { readonly authenticated: true; readonly user: ReviewedUser }
  | { readonly authenticated: false; readonly reason?: string | undefined };

/** A SubjectAccessReview's attributes (resource attributes only). */
export interface AccessAttributes {
  readonly user: string;
  readonly uid?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  readonly extra?: Readonly<Record<string, readonly string[]>> | undefined;
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
  readonly name: string;
}

export interface AccessReviewResult {
  readonly allowed: boolean;
  readonly reason?: string | undefined;
}

/**
 * The Kubernetes API as auth needs it (TokenReview, SubjectAccessReview).
 * A rejected promise means "could not ask", which answers 503, never allow.
 */
export interface AccessReviewer {
  reviewToken(token: string, audiences: readonly string[]): Promise<TokenReviewResult>;
  reviewAccess(attributes: AccessAttributes): Promise<AccessReviewResult>;
}

/** `auth.mode: none` (config allows it on loopback only). */
export const allowAll: Authorizer = () => Promise.resolve({ user: 'anonymous' });

/** `auth.mode: token`: one shared secret, compared in constant time by `matches`. */
export function createTokenAuthorizer(secret: { matches(token: string): boolean }): Authorizer {
  return ({ token }) => {
    if (token === undefined) return Promise.reject(missingToken());
    if (!secret.matches(token)) return Promise.reject(new NodeCaError('UNAUTHENTICATED', 'the bearer token is not valid'));
    return Promise.resolve({ user: 'token' });
  };
}

export function missingToken(): NodeCaError {
  return new NodeCaError('UNAUTHENTICATED', 'an Authorization: Bearer <token> header is required');
}

/**
 * The onRequest hook of a TCP listener. `/healthz` and `/readyz` are open,
 * `/metrics` is open to loopback callers (a node-local scraper), everything
 * else goes to the authorizer with the route's resource and verb. Unknown
 * routes fall through to the 404/405 answer, which reveals nothing; a route
 * without `config.resource` is refused, so forgetting it fails closed.
 */
export function createAuthHook(authorize: Authorizer): onRequestAsyncHookHandler {
  return async (request) => {
    if (request.is404) return;
    const { resource } = request.routeOptions.config;
    if (resource === undefined)
      throw new NodeCaError('INTERNAL', `route ${request.routeOptions.url ?? '?'} declares no config.resource`);
    if (resource === 'public') return;
    if (resource === 'metrics' && isLoopbackAddress(request.socket.remoteAddress)) return;
    const verb = verbOf(request);
    const { user } = await authorize({ token: bearerToken(soleAuthorization(request)), resource, verb });
    request.log.debug({ user, resource, verb }, 'request authorized');
  };
}

/**
 * The Authorization header, refusing a repeated one: Node keeps the first and
 * drops the others silently, so which credential counts would depend on the
 * order a proxy or client happened to send them in.
 */
function soleAuthorization(request: FastifyRequest): string | undefined {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === 'authorization') count++;
  if (count > 1) throw new NodeCaError('BAD_REQUEST', 'more than one Authorization header');
  return request.headers.authorization;
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive), else undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return m?.[1];
}

const collections = new Set<ApiResource>(['backups', 'pullchecks']);

/**
 * The verb a route means: its declared `config.verb`, else from the method.
 * A GET on a collection route without path parameters (`/v1/backups`) is
 * `list`, any other GET (one job, the status, the metrics) is `get`.
 */
export function defaultVerb(method: string, resource: ApiResource, hasParams: boolean): ApiVerb {
  switch (method) {
    case 'POST':
      return 'create';
    case 'DELETE':
      return 'delete';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    default:
      return collections.has(resource) && !hasParams ? 'list' : 'get';
  }
}

function verbOf(request: FastifyRequest): ApiVerb {
  const { config, url, method } = request.routeOptions;
  if (config.verb !== undefined) return config.verb;
  return defaultVerb(method === 'HEAD' ? 'GET' : String(method), config.resource ?? 'public', (url ?? '').includes(':'));
}
