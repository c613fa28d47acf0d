import type { FastifyPluginAsync } from 'fastify';
import { createApp } from '../../../src/server/app.js';
import type { Authorizer } from '../../../src/server/auth.js';
import { createAuthHook } from '../../../src/server/auth.js';
import { createLogger, type Logger } from '../../../src/lib/logger.js';
import { NodeCaError } from '../../../src/lib/errors.js';

/** Routes shaped like the v1 API (same resources, methods, schemas), answering fixed bodies. */
export const v1LikeRoutes: FastifyPluginAsync = (app) => {
  const idParams = {
    type: 'object',
    additionalProperties: false,
    required: ['id'],
    properties: { id: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' } },
  } as const;
  const backupBody = {
    type: 'object',
    additionalProperties: false,
    properties: { source: { type: 'string' }, allowChanges: { type: 'boolean' } },
  } as const;
  app.get('/healthz', { config: { resource: 'public' } }, () => ({ status: 'ok' }));
  app.get('/metrics', { config: { resource: 'metrics' } }, () => 'metrics');
  app.get('/v1/status', { config: { resource: 'status' } }, () => ({ node: 'n1' }));
  app.get('/v1/backups', { config: { resource: 'backups' } }, () => ({ items: [] }));
  app.post('/v1/backups', { config: { resource: 'backups' }, schema: { body: backupBody } }, (_r, reply) =>
    reply.status(202).send({ id: 'job-1' }),
  );
  app.get('/v1/backups/:id', { config: { resource: 'backups' }, schema: { params: idParams } }, (r) => ({ id: (r.params as { id: string }).id }));
  app.delete('/v1/backups/:id', { config: { resource: 'backups' }, schema: { params: idParams } }, () => ({ canceled: true }));
  app.get('/v1/backups/:id/archive', { config: { resource: 'backups' }, schema: { params: idParams } }, () => 'tar');
  app.post('/v1/pull-checks', { config: { resource: 'pullchecks', verb: 'create' } }, () => ({ ok: true }));
  app.get('/v1/unlabelled', () => ({ open: 'never' }));
  app.get('/v1/boom', { config: { resource: 'status' } }, () => {
    throw new Error('EACCES: permission denied, open /secret/host/path');
  });
  app.get('/v1/missing', { config: { resource: 'status' } }, () => {
    throw new NodeCaError('NOT_FOUND', 'no backup job abc');
  });
  return Promise.resolve();
};

export const quietLogger: Logger = createLogger({ level: 'silent' });

export function appWith(authorize: Authorizer | undefined, logger: Logger = quietLogger, bodyLimit?: number) {
  return createApp({
    logger,
    routes: [v1LikeRoutes],
    ...(authorize === undefined ? {} : { onRequest: createAuthHook(authorize) }),
    ...(bodyLimit === undefined ? {} : { bodyLimit }),
  });
}
