import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { NodeCaError } from '../../lib/errors.js';
import type { BackupJob } from '../../backup/job.js';
import type { BackupService } from '../../backup/service.js';

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', pattern: '^[0-9TZ]{16}-[0-9a-f]{8}$' } },
  required: ['id'],
  additionalProperties: false,
} as const;

const startBody = {
  type: ['object', 'null'],
  properties: { source: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }, allowChanges: { type: 'boolean' } },
  additionalProperties: false,
} as const;

const noQuery = { type: 'object', additionalProperties: false } as const;

function found(job: BackupJob | undefined, id: string): BackupJob {
  if (job === undefined) throw new NodeCaError('NOT_FOUND', `no backup job ${id}`);
  return job;
}

/** `/v1/backups`: start (202 + Location), list newest first, get, cancel, download. */
export function backupRoutes(deps: { backups: BackupService }): FastifyPluginAsync {
  const { backups } = deps;
  return async (app) => {
    const config = { resource: 'backups' } as const;
    app.post<{ Body: { source?: string; allowChanges?: boolean } | null }>('/v1/backups', { config, schema: { body: startBody, querystring: noQuery } }, async (req, reply) => {
      const job = await backups.start(req.body ?? {});
      return reply.status(202).header('location', `/v1/backups/${job.id}`).send(job);
    });
    app.get('/v1/backups', { config, schema: { querystring: noQuery } }, async () => ({ items: await backups.list() }));
    app.get<{ Params: { id: string } }>('/v1/backups/:id', { config, schema: { params: idParams, querystring: noQuery } }, async (req) =>
      found(await backups.get(req.params.id), req.params.id),
    );
    app.delete<{ Params: { id: string } }>('/v1/backups/:id', { config, schema: { params: idParams, querystring: noQuery } }, async (req) =>
      found(await backups.cancel(req.params.id), req.params.id),
    );
    app.get<{ Params: { id: string } }>('/v1/backups/:id/archive', { config, schema: { params: idParams, querystring: noQuery } }, async (req, reply) => {
      const job = found(await backups.get(req.params.id), req.params.id);
      if (job.phase !== 'Succeeded') throw new NodeCaError('BACKUP_NOT_FINISHED', `backup ${job.id} is ${job.phase}; only a Succeeded backup can be downloaded`);
      const st = await stat(job.archivePath).catch(() => undefined);
      // A newer verified backup of the same source replaces the file: never serve other bytes than this job's.
      const newer = (await backups.list()).some((j) => j.archivePath === job.archivePath && j.phase === 'Succeeded' && j.id > job.id);
      if (st === undefined || job.archive === undefined || newer || st.size !== job.archive.bytes)
        throw new NodeCaError('NOT_FOUND', `the archive of backup ${job.id} was replaced or removed`);
      return reply
        .header('content-type', 'application/x-tar')
        .header('content-length', st.size)
        .header('content-disposition', `attachment; filename="${job.archivePath.split('/').pop() ?? 'backup.tar'}"`)
        .header('x-archive-sha256', job.archive.sha256)
        .send(createReadStream(job.archivePath));
    });
  };
}
