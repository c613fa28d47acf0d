import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentBackupJob } from '../../../src/fleet/agent-api.js';
import { downloadArchive } from '../../../src/fleet/download.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-fleet-dl-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function jobFor(archive: Buffer, over: Partial<AgentBackupJob['archive']> = {}): AgentBackupJob {
  return {
    id: 'j',
    node: 'cp1',
    source: 'minio',
    archivePath: '/cpaas/backup/10.0.0.1-minio.tar',
    phase: 'Succeeded',
    startTime: '',
    progress: { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 },
    archive: { bytes: archive.length, sha256: sha(archive), ...over },
  };
}

describe('downloadArchive', () => {
  it('writes the archive and sha256sum-format sidecars computed from the received bytes', async () => {
    const archive = await tarOf({ 'cpaas/minio/a': 'A', 'cpaas/minio/b/c': 'CC' });
    const r = await downloadArchive(async () => Readable.from([archive]), jobFor(archive), {
      outDir: dir,
      node: 'cp1',
    });
    expect(r).toMatchObject({ reused: false, bytes: archive.length, sha256: sha(archive) });
    expect(await readFile(path.join(dir, 'cp1', '10.0.0.1-minio.tar'))).toEqual(archive);
    expect(await readFile(path.join(dir, 'cp1', '10.0.0.1-minio.tar.sha256'), 'utf8')).toBe(
      `${sha(archive)}  10.0.0.1-minio.tar\n`,
    );
    expect(await readFile(path.join(dir, 'cp1', '10.0.0.1-minio.tar.manifest'), 'utf8')).toBe(
      `${sha('A')}  cpaas/minio/a\n${sha('CC')}  cpaas/minio/b/c\n`,
    );
  });

  it('fails with DOWNLOAD_MISMATCH and leaves no file when the bytes differ from the node’s sha256', async () => {
    const archive = await tarOf({ 'cpaas/minio/a': 'A' });
    const job = jobFor(archive, { sha256: 'f'.repeat(64) });
    await expect(
      downloadArchive(async () => Readable.from([archive]), job, { outDir: dir, node: 'cp1' }),
    ).rejects.toMatchObject({
      failure: { code: 'DOWNLOAD_MISMATCH' },
    });
    expect(await readdir(path.join(dir, 'cp1'))).toEqual([]);
  });

  it('refuses to overwrite an existing different file, and reuses an identical one without downloading', async () => {
    const archive = await tarOf({ 'cpaas/minio/a': 'A' });
    await writeFile(
      path.join(await mkdirp(path.join(dir, 'cp1')), '10.0.0.1-minio.tar'),
      'other bytes',
    );
    const never = async (): Promise<Readable> => Promise.reject(new Error('must not download'));
    await expect(
      downloadArchive(never, jobFor(archive), { outDir: dir, node: 'cp1' }),
    ).rejects.toMatchObject({ failure: { code: 'OUT_FILE_EXISTS' } });
    expect(await readFile(path.join(dir, 'cp1', '10.0.0.1-minio.tar'), 'utf8')).toBe('other bytes');
    await writeFile(path.join(dir, 'cp1', '10.0.0.1-minio.tar'), archive);
    expect(
      await downloadArchive(never, jobFor(archive), { outDir: dir, node: 'cp1' }),
    ).toMatchObject({ reused: true });
  });

  it('refuses a node name that would leave the out dir', async () => {
    const archive = await tarOf({ a: 'A' });
    await expect(
      downloadArchive(async () => Readable.from([archive]), jobFor(archive), {
        outDir: dir,
        node: '..',
      }),
    ).rejects.toMatchObject({
      failure: { code: 'DOWNLOAD_FAILED' },
    });
  });
});

async function mkdirp(d: string): Promise<string> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(d, { recursive: true });
  return d;
}
