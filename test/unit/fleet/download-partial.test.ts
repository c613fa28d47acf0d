import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { AgentBackupJob } from '../../../src/fleet/agent-api.js';
import { downloadArchive, removePartialDownloadsSync } from '../../../src/fleet/download.js';
import { waitFor } from '../../support/poll.js';

const job: AgentBackupJob = {
  id: 'j',
  node: 'n1',
  source: 'minio',
  archivePath: '/backup/10.0.0.1-minio.tar',
  phase: 'Succeeded',
  startTime: '2026-01-01T00:00:00Z',
  progress: { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 },
  archive: { bytes: 10_240, sha256: '0'.repeat(64) },
};

describe('removePartialDownloadsSync (the second signal’s quick exit)', () => {
  it('removes the .partial file of a download in progress', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'fleet-partial-'));
    const body = new PassThrough();
    try {
      const download = downloadArchive(async () => body, job, { outDir: out, node: 'n1' }).catch(
        () => undefined,
      );
      body.write(Buffer.alloc(512));
      const partial = path.join(out, 'n1', '10.0.0.1-minio.tar.partial');
      await waitFor(() => existsSync(partial), { timeoutMs: 5_000, message: 'partial' });
      removePartialDownloadsSync();
      expect(existsSync(partial)).toBe(false);
      body.destroy(new Error('stopped'));
      await download;
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
