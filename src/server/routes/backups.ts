import { open, readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { NodeCaError } from '../../lib/errors.js';
import type { BackupJob } from '../../backup/job.js';
import type { BackupService } from '../../backup/service.js';

const idParams = {
  type: 'object',
  // UTC time to the millisecond (to the second in ids of earlier versions), random hex.
  properties: { id: { type: 'string', pattern: '^[0-9]{8}T[0-9]{6}([0-9]{3})?Z-[0-9a-f]{8}$' } },
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

function gone(job: BackupJob): NodeCaError {
  return new NodeCaError('NOT_FOUND', `the archive of backup ${job.id} was replaced or removed`);
}

/**
 * The job's archive, opened, if the file still holds this job's bytes (every
 * backup of a source writes the same path); what is checked is the open file,
 * and what is sent is read from it. Its size and the hash in the `.sha256`
 * beside it must be the job's: size alone misses a same-size rewrite (tar
 * sizes are whole 10 KiB records), and hashing the file would read it twice.
 * A newer backup renames its archive, then its `.sha256`, and stays Verifying
 * until both are done: so the job list is read last, and no newer job of the
 * path may have Succeeded or be Verifying.
 */
async function openArchive(job: BackupJob & { archive: { bytes: number; sha256: string } }, list: () => Promise<BackupJob[]>) {
  const handle = await open(job.archivePath, 'r').catch(() => undefined);
  if (handle === undefined) throw gone(job);
  try {
    const size = (await handle.stat()).size;
    const sidecar = await readFile(`${job.archivePath}.sha256`, 'utf8').catch(() => '');
    // Ids sort by creation (see newJobId).
    const newer = (await list()).find((j) => j.archivePath === job.archivePath && j.id > job.id && (j.phase === 'Succeeded' || j.phase === 'Verifying'));
    if (newer?.phase === 'Verifying')
      throw new NodeCaError('BACKUP_RUNNING', `backup ${newer.id} is verifying and may replace the archive of backup ${job.id} at any moment`, { details: { jobId: newer.id } });
    if (newer !== undefined || size !== job.archive.bytes || sidecarHash(sidecar) !== job.archive.sha256) throw gone(job);
    return { handle, size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** The hash of a `sha256sum` line (a leading backslash marks an escaped name). */
function sidecarHash(line: string): string | undefined {
  return /^\\?([0-9a-f]{64}) {2}/.exec(line)?.[1];
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
      if (job.archive === undefined) throw gone(job);
      const file = await openArchive({ ...job, archive: job.archive }, backups.list);
      return reply
        .header('content-type', 'application/x-tar')
        .header('content-length', file.size)
        .header('content-disposition', `attachment; filename="${job.archivePath.split('/').pop() ?? 'backup.tar'}"`)
        .header('x-archive-sha256', job.archive.sha256)
        .send(file.handle.createReadStream());
    });
  };
}
