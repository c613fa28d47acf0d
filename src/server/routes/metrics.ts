import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

export function metricsRoutes(deps: { registry: Registry }): FastifyPluginAsync {
  return (app) => {
    app.get('/metrics', { config: { resource: 'metrics' } }, async (_req, reply) => {
      const text = await deps.registry.metrics();
      return reply.type(deps.registry.contentType).send(text);
    });
    return Promise.resolve();
  };
}
