import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { archiveName, capHistory, failJob, interruptedJob, newJobId, type BackupJob } from '../../../src/backup/job.js';
import { ManifestFile, ManifestLines, sha256sumLine } from '../../../src/backup/manifest.js';
import { planSpace } from '../../../src/backup/preflight.js';
import { lastTarError, parseChangedMembers, unescapeTarName } from '../../../src/backup/tar-messages.js';

const job: BackupJob = {
  id: '20261123T000000Z-00000001',
  node: 'n',
  source: 'minio',
  sourceDir: '/cpaas/minio',
  archivePath: '/cpaas/backup/n-minio.tar',
  allowChanges: false,
  phase: 'Running',
  startTime: '2026-11-23T00:00:00.000Z',
  progress: { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 },
};

describe('backup job model', () => {
  it('names the archive after the node IP, else the node name', () => {
    expect(archiveName({ nodeName: 'node-1', nodeIP: '192.168.3.10' }, 'minio')).toBe('192.168.3.10-minio.tar');
    expect(archiveName({ nodeName: 'node-1' }, 'minio')).toBe('node-1-minio.tar');
  });

  it('makes ids the routes accept: UTC time to the millisecond, random hex', () => {
    expect(newJobId(new Date('2026-11-23T09:18:00.123Z'), undefined, 'ab12cd34')).toBe('20261123T091800123Z-ab12cd34');
  });

  it('turns a job left Running into Failed/INTERRUPTED and keeps finished ones', () => {
    const now = new Date('2026-11-24T00:00:00Z');
    expect(interruptedJob(job, now)).toMatchObject({ phase: 'Failed', error: { code: 'INTERRUPTED' }, completionTime: now.toISOString() });
    const done = failJob(job, 'CANCELED', 'x', now);
    expect(done.phase).toBe('Canceled');
    expect(interruptedJob(done, now)).toBe(done);
  });

  it('keeps the newest jobs first, capped', () => {
    const jobs = ['3', '1', '2'].map((n) => ({ ...job, id: `2026112${n}T000000Z-00000001` }));
    expect(capHistory(jobs, 2).map((j) => j.id[7])).toEqual(['3', '2']);
  });
});

describe('sidecar lines', () => {
  it('writes sha256sum lines, escaping backslashes and newlines as coreutils does', () => {
    expect(sha256sumLine('ab', 'a b/é')).toBe('ab  a b/é\n');
    expect(sha256sumLine('ab', 'a\\b\nc')).toBe('\\ab  a\\\\b\\nc\n');
  });

  it('gathers manifest lines in 64 KiB buffers holding exactly the sha256sum lines, in order', () => {
    const lines = new ManifestLines();
    const out: Buffer[] = [];
    const expected: string[] = [];
    const hex = 'a'.repeat(64);
    // Plain, non-ASCII, escaped and very long names, enough of them to fill several buffers.
    const names = Array.from({ length: 3000 }, (_, i) =>
      i % 997 === 5 ? `long/${'n'.repeat(30_000)}` : i % 101 === 7 ? `we\\ird\nname ${i}` : `cpaas/minio/bucket/é objet-${i}/xl.meta`,
    );
    for (const name of names) {
      expected.push(sha256sumLine(hex, name));
      const full = lines.add(hex, name);
      if (full !== undefined) out.push(full);
    }
    out.push(lines.take());
    expect(out.length).toBeGreaterThan(4);
    expect(Buffer.concat(out).toString('utf8')).toBe(expected.join(''));
    expect(lines.take().length).toBe(0);
  });

  it('writes the manifest file, and fails (never hangs) when its filesystem is full', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'node-ca-manifest-'));
    try {
      const hex = 'b'.repeat(64);
      const ok = new ManifestFile(path.join(dir, 'm'));
      const expected: string[] = [];
      for (let i = 0; i < 5000; i++) {
        expected.push(sha256sumLine(hex, `f${i}`));
        await ok.add(hex, `f${i}`);
      }
      await ok.close();
      expect(await readFile(path.join(dir, 'm'), 'utf8')).toBe(expected.join(''));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    // /dev/full: every write fails with ENOSPC. The first 64 KiB write is accepted into
    // the stream's buffer; what follows must reject, however the lines are timed.
    const full = new ManifestFile('/dev/full');
    let failure: unknown;
    for (let i = 0; i < 20_000 && failure === undefined; i++) {
      try {
        await full.add('c'.repeat(64), `cpaas/minio/object-${i}/xl.meta`);
      } catch (err) {
        failure = err;
      }
    }
    expect(failure).toMatchObject({ code: 'ENOSPC' });
    await expect(full.close()).rejects.toMatchObject({ code: 'ENOSPC' });
  });
});

describe('free-space preflight', () => {
  const fs = { bsize: 4096, blocks: 1000, bavail: 200 };
  it('keeps minFreePercent of the filesystem free after the archive', () => {
    expect(planSpace({ neededBytes: 100 * 4096, fs, minFreePercent: 10 }).ok).toBe(true);
    expect(planSpace({ neededBytes: 100 * 4096 + 1, fs, minFreePercent: 10 }).ok).toBe(false);
    expect(planSpace({ neededBytes: 200 * 4096, fs, minFreePercent: 0 }).ok).toBe(true);
  });
});

describe('GNU tar messages', () => {
  it('reads the members tar reported as changed, unescaping names', () => {
    const stderr = 'tar: cpaas/minio/a\\303\\251 b: file changed as we read it\ntar: cpaas/minio/x: File removed before we read it\ntar: other\n';
    expect(parseChangedMembers(stderr)).toEqual(['cpaas/minio/aé b', 'cpaas/minio/x']);
    expect(unescapeTarName('a\\\\b\\nc')).toBe('a\\b\nc');
  });

  it('keeps the last real error line', () => {
    expect(lastTarError('tar: x: Cannot open: Permission denied\ntar: Exiting with failure status due to previous errors\n')).toBe('tar: x: Cannot open: Permission denied');
    // tar's message when the archive's filesystem fills: the cause, not the closing line.
    expect(lastTarError('tar: /b/x.tar.partial: Cannot write: No space left on device\ntar: Error is not recoverable: exiting now\n')).toBe('tar: /b/x.tar.partial: Cannot write: No space left on device');
  });
});
