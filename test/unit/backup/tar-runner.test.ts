import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createArchiveSink, type ArchiveMember } from '../../../src/backup/archive-reader.js';
import { BackupFailure } from '../../../src/backup/job.js';
import { readBytes, runTar, writebackEvery } from '../../../src/backup/tar-runner.js';

// Real GNU tar writes the archive; runTar reads it behind tar. What it reports
// must be what is in the file, byte for byte, whatever the reads' timing.
let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-tar-runner-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('runTar', () => {
  it('hashes and parses exactly the bytes tar wrote: many reads, several writebacks, small and large files', async () => {
    const src = path.join(root, 'src');
    await mkdir(path.join(src, 'sub'), { recursive: true });
    const contents = new Map<string, Buffer>();
    // 40 MiB in all: more than one writeback interval and many full reads.
    for (let i = 0; i < 5; i++) contents.set(`big.${i}`, randomBytes(8 << 20));
    for (let i = 0; i < 300; i++) contents.set(`sub/small.${i}`, randomBytes((i * 977) % 20_000));
    for (const [rel, data] of contents) await writeFile(path.join(src, rel), data);
    expect(5 * (8 << 20)).toBeGreaterThan(writebackEvery + readBytes);

    const members: ArchiveMember[] = [];
    const partial = path.join(root, 'out.tar.partial');
    const result = await runTar({
      sourceDir: src,
      partialPath: partial,
      reader: createArchiveSink((m) => members.push(m)),
      signal: new AbortController().signal,
    });
    await result.durable;
    const archive = await readFile(partial);
    expect(result.exitCode).toBe(0);
    expect(result.bytes).toBe(archive.length);
    expect(result.sha256).toBe(sha256(archive));
    expect((await stat(partial)).mode & 0o777).toBe(0o600);
    // The same members `tar -tf` lists, each with its content's hash.
    const listed = execFileSync('tar', ['-tf', partial], { encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n');
    expect(members.map((m) => m.name)).toEqual(listed);
    const prefix = src.replace(/^\/+/, '');
    for (const [rel, data] of contents) expect(members.find((m) => m.name === `${prefix}/${rel}`)?.sha256, rel).toBe(sha256(data));
  });

  it('fails TAR_FAILED with tar\'s own message when tar cannot archive the source, and leaves the partial to the caller', async () => {
    const partial = path.join(root, 'out.tar.partial');
    const failure = await runTar({
      sourceDir: path.join(root, 'no-such-source'),
      partialPath: partial,
      reader: createArchiveSink(() => undefined),
      signal: new AbortController().signal,
    }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(BackupFailure);
    expect(failure).toMatchObject({ code: 'TAR_FAILED' });
    expect((failure as Error).message).toMatch(/tar exited 2: .*no-such-source.*No such file or directory/);
    expect(await readdir(root)).toEqual(['out.tar.partial']);
  });

  it('fails NO_SPACE, naming tar\'s own line, when the archive\'s filesystem fills (a 64 KiB tmpfs)', async () => {
    const src = path.join(root, 'src');
    await mkdir(src);
    await writeFile(path.join(src, 'f'), randomBytes(300_000));
    const small = path.join(root, 'small');
    await mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
    try {
      const failure = await runTar({
        sourceDir: src,
        partialPath: path.join(small, 'out.tar.partial'),
        reader: createArchiveSink(() => undefined),
        signal: new AbortController().signal,
      }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ code: 'NO_SPACE' });
      // Real GNU tar: a record cut short, not "No space left on device".
      expect((failure as Error).message).toMatch(/out\.tar\.partial: (Wrote only \d+ of 10240 bytes|Cannot write: No space left on device)$/);
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('stops tar and fails TAR_FAILED when the parser fails', async () => {
    const src = path.join(root, 'src');
    await mkdir(src);
    for (let i = 0; i < 4; i++) await writeFile(path.join(src, `f${i}`), randomBytes(4 << 20));
    const broken = {
      push(): undefined {
        throw new Error('parser says no');
      },
      end() {},
    };
    const started = performance.now();
    const failure = await runTar({ sourceDir: src, partialPath: path.join(root, 'out.tar.partial'), reader: broken, signal: new AbortController().signal }).catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'TAR_FAILED' });
    expect((failure as Error).message).toContain('parser says no');
    expect(performance.now() - started).toBeLessThan(8000);
  });

  it('fails CANCELED when the signal aborts mid-archive', async () => {
    const src = path.join(root, 'src');
    await mkdir(src);
    for (let i = 0; i < 8; i++) await writeFile(path.join(src, `f${i}`), randomBytes(8 << 20));
    const abort = new AbortController();
    let seen = 0;
    const failure = await runTar({
      sourceDir: src,
      partialPath: path.join(root, 'out.tar.partial'),
      reader: createArchiveSink(() => undefined),
      signal: abort.signal,
      onBytes: (n) => {
        seen = n;
        if (n >= readBytes) abort.abort();
      },
    }).catch((e: unknown) => e);
    expect(seen).toBeGreaterThanOrEqual(readBytes);
    expect(seen).toBeLessThan(64 << 20);
    expect(failure).toMatchObject({ code: 'CANCELED' });
  });
});
