import fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyServerOptions,
  type onRequestAsyncHookHandler,
  type RouteOptions,
} from 'fastify';
import type { Logger } from '../lib/logger.js';
import { answerFrameworkError, createClientErrorHandler, installErrorHandling } from './errors.js';
import { logAbortedRequest, RequestLogController } from './request-log.js';

/** Which virtual resource a route is (for authorization), set in each route's `config`. */
export type ApiResource = 'backups' | 'pullchecks' | 'status' | 'metrics' | 'public';

/** SubjectAccessReview verbs. */
export type ApiVerb = 'get' | 'list' | 'create' | 'update' | 'patch' | 'delete';

declare module 'fastify' {
  interface FastifyContextConfig {
    resource?: ApiResource;
    /** Set where the method alone is ambiguous; default: see `defaultVerb` in auth.ts. */
    verb?: ApiVerb;
  }
}

export interface AppOptions {
  readonly logger: Logger;
  /** Route plugins, each registered encapsulated. */
  readonly routes: readonly FastifyPluginAsync[];
  /** Runs before every route (authentication and authorization). */
  readonly onRequest?: onRequestAsyncHookHandler;
  readonly https?: FastifyServerOptions & { https: { key: string | Buffer; cert: string | Buffer } };
  /** Largest accepted request body, bytes. Default 64 KiB (every v1 body is a small JSON document). */
  readonly bodyLimit?: number;
}

const defaultBodyLimit = 64 * 1024;

/** A query string that takes no parameters: the default of every route that declares none. */
const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

/**
 * The HTTP app: JSON-schema'd routes, the SPEC error shape for every error
 * (framework and HTTP-parser ones included), one log line per request without
 * credentials (request-log.ts). Bodies are JSON only (anything else is 415); unknown
 * fields and query parameters are refused, never silently dropped (`removeAdditional: false`).
 */
export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const logger = options.logger.child({ component: 'http' });
  const app = fastify({
    loggerInstance: logger,
    logController: new RequestLogController(),
    bodyLimit: options.bodyLimit ?? defaultBodyLimit,
    // `/v1/status/` is `/v1/status`, as `allowedMethods` reads it too, so a 405 never
    // contradicts the router ("GET is not allowed on /v1/status/; allowed: GET").
    routerOptions: { ignoreTrailingSlash: true },
    // Router and HTTP-parser errors come before any route: without these two
    // they would answer in Fastify's or Node's shape, not the SPEC's.
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: createClientErrorHandler(logger),
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: false } },
    ...(options.https ?? {}),
  }) as unknown as FastifyInstance;
  app.removeContentTypeParser('text/plain');
  const table: RouteOptions[] = [];
  app.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, querystring: route.schema?.querystring ?? noQuery };
    table.push(route);
  });
  installErrorHandling(app, { allowedMethods: (path) => allowedMethods(table, path) });
  app.addHook('onRequestAbort', logAbortedRequest);
  // `curl -X POST .../v1/backups` sends no body at all: read it as `{}`, so
  // "every field optional" holds without a `-d '{}'`.
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body === undefined && request.method === 'POST') request.body = {};
    done();
  });
  if (options.onRequest !== undefined) app.addHook('onRequest', options.onRequest);
  for (const routes of options.routes) await app.register(routes);
  return app;
}

/** The methods registered for a concrete path (for 405 and its `Allow` header). */
export function allowedMethods(routes: readonly Pick<RouteOptions, 'method' | 'url'>[], path: string): string[] {
  const out = new Set<string>();
  for (const r of routes) {
    if (!routePattern(r.url).test(path)) continue;
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) out.add(m);
  }
  return [...out].sort();
}

function routePattern(url: string): RegExp {
  const body = url
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}/?$`);
}
