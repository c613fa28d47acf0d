import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BackupJob, BackupPhase } from '../../../src/backup/job.js';
import { sha256sumLine } from '../../../src/backup/manifest.js';
import type { BackupService } from '../../../src/backup/service.js';
import { createLogger } from '../../../src/lib/logger.js';
import { createApp } from '../../../src/server/app.js';
import { backupRoutes } from '../../../src/server/routes/backups.js';

let dir: string;
let archivePath: string;
let app: FastifyInstance | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-archive-route-'));
  archivePath = path.join(dir, '10.1.2.3-minio.tar');
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await rm(dir, { recursive: true, force: true });
});

// Created in this order within one millisecond: the older one has the larger random part.
const olderId = '20261123T091800123Z-ffffffff';
const newerId = '20261123T091800124Z-00000000';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The same size (tar sizes are whole records), other bytes. */
const bytesA = Buffer.alloc(10240, 'a');
const bytesB = Buffer.alloc(10240, 'b');

function job(id: string, phase: BackupPhase, bytes?: Buffer): BackupJob {
  return {
    id,
    node: 'n1',
    source: 'minio',
    sourceDir: '/cpaas/minio',
    archivePath,
    allowChanges: false,
    phase,
    startTime: '2026-11-23T09:18:00.000Z',
    progress: { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 },
    ...(bytes === undefined ? {} : { archive: { bytes: bytes.length, sha256: sha256(bytes) } }),
  };
}

/** The archive and its `.sha256` as a publish leaves them (`sidecar: false`: removed after a failed one). */
async function onDisk(bytes: Buffer, sidecar = true): Promise<void> {
  await writeFile(archivePath, bytes);
  await rm(`${archivePath}.sha256`, { force: true });
  if (sidecar) await writeFile(`${archivePath}.sha256`, sha256sumLine(sha256(bytes), path.basename(archivePath)));
}

async function routes(jobs: BackupJob[]): Promise<FastifyInstance> {
  const newestFirst = [...jobs].sort((a, b) => (a.id < b.id ? 1 : -1));
  const backups = {
    list: () => Promise.resolve(newestFirst),
    get: (id: string) => Promise.resolve(newestFirst.find((j) => j.id === id)),
  } as unknown as BackupService;
  app = await createApp({ logger: createLogger({ level: 'silent' }), routes: [backupRoutes({ backups })] });
  return app;
}

const download = async (a: FastifyInstance, id: string) => a.inject({ method: 'GET', url: `/v1/backups/${id}/archive` });

describe('GET /v1/backups/{id}/archive', () => {
  it('serves the newest Succeeded job its file, with its size and hash', async () => {
    await onDisk(bytesB);
    const a = await routes([job(olderId, 'Succeeded', bytesA), job(newerId, 'Succeeded', bytesB)]);
    const res = await download(a, newerId);
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-archive-sha256']).toBe(sha256(bytesB));
    expect(Number(res.headers['content-length'])).toBe(bytesB.length);
    expect(res.rawPayload.equals(bytesB)).toBe(true);
    expect((await download(a, olderId)).statusCode).toBe(404);
  });

  it('never serves another job\'s bytes: a newer backup that replaced the file and then failed', async () => {
    // The newer job's archive was renamed into place, its sidecars could not be: they were removed.
    await onDisk(bytesB, false);
    const a = await routes([job(olderId, 'Succeeded', bytesA), job(newerId, 'Failed')]);
    const res = await download(a, olderId);
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('refuses while a newer backup of the same archive is Verifying (its renames may be under way)', async () => {
    await onDisk(bytesA);
    const a = await routes([job(olderId, 'Succeeded', bytesA), job(newerId, 'Verifying')]);
    const res = await download(a, olderId);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: 'BACKUP_RUNNING', jobId: newerId } });
  });

  it('serves an older job its file again once a newer one failed before replacing it', async () => {
    await onDisk(bytesA);
    const a = await routes([job(olderId, 'Succeeded', bytesA), job(newerId, 'Failed')]);
    const res = await download(a, olderId);
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(bytesA)).toBe(true);
  });

  it('answers 404 when the file was removed, or its .sha256 names other bytes of the same size', async () => {
    const a = await routes([job(olderId, 'Succeeded', bytesA)]);
    expect((await download(a, olderId)).statusCode).toBe(404);
    await writeFile(archivePath, bytesA);
    await writeFile(`${archivePath}.sha256`, sha256sumLine(sha256(bytesB), path.basename(archivePath)));
    expect((await download(a, olderId)).statusCode).toBe(404);
  });

  it('accepts the ids of earlier versions (to the second)', async () => {
    await onDisk(bytesA);
    const a = await routes([job('20261123T091800Z-0000abcd', 'Succeeded', bytesA)]);
    expect((await download(a, '20261123T091800Z-0000abcd')).statusCode).toBe(200);
  });
});
