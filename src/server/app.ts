import fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyServerOptions,
  type onRequestHookHandler,
} from 'fastify';
import type { Logger } from '../lib/logger.js';
import { installErrorHandling } from './errors.js';

/** Which virtual resource a route is (for authorization), set in each route's `config`. */
export type ApiResource = 'backups' | 'pullchecks' | 'status' | 'metrics' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    resource?: ApiResource;
  }
}

export interface AppOptions {
  readonly logger: Logger;
  /** Route plugins, each registered encapsulated. */
  readonly routes: readonly FastifyPluginAsync[];
  /** Runs before every route (authentication and authorization). */
  readonly onRequest?: onRequestHookHandler;
  readonly https?: FastifyServerOptions & { https: { key: string | Buffer; cert: string | Buffer } };
}

const bodyLimit = 64 * 1024;

/**
 * The HTTP app: JSON-schema'd routes, the SPEC error shape for every error
 * (framework ones included), request logs without credentials.
 */
export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: options.logger.child({ component: 'http' }),
    bodyLimit,
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: false } },
    ...(options.https ?? {}),
  }) as unknown as FastifyInstance;
  installErrorHandling(app);
  if (options.onRequest !== undefined) app.addHook('onRequest', options.onRequest);
  for (const routes of options.routes) await app.register(routes);
  return app;
}
