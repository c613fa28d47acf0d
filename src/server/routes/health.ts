import type { FastifyPluginAsync } from 'fastify';
import { errorBody } from '../errors.js';

/** `/healthz` (the process works) and `/readyz` (first complete trust sync done); no token. */
export function healthRoutes(deps: { isReady: () => boolean }): FastifyPluginAsync {
  return (app) => {
    app.get('/healthz', { config: { resource: 'public' } }, () => ({ status: 'ok' }));
    app.get('/readyz', { config: { resource: 'public' } }, (_req, reply) =>
      deps.isReady()
        ? { status: 'ready' }
        : reply.status(503).send(errorBody('NOT_READY', 'the first complete trust sync has not finished')),
    );
    return Promise.resolve();
  };
}
