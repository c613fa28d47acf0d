import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ArchiveFile,
  batchBytes,
  dropBytes,
  writebackEvery,
} from '../../../src/backup/archive-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'archive-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ArchiveFile', () => {
  it('writes every chunk in order, in batches, and asks the caller to wait when two batches are pending', async () => {
    const file = path.join(dir, 'a.tar.partial');
    const out = await ArchiveFile.open(file);
    const chunks = Array.from({ length: 400 }, (_, i) => randomBytes(1 + ((i * 7919) % 40_000)));
    let waits = 0;
    for (const c of chunks) {
      const wait = out.write(c);
      if (wait !== undefined) {
        waits += 1;
        await wait;
      }
    }
    await out.flush();
    await out.syncAndClose();
    expect(waits).toBeGreaterThan(0);
    expect((await readFile(file)).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('stays byte-exact across background writebacks (more than two writeback intervals)', async () => {
    const file = path.join(dir, 'c.tar.partial');
    const out = await ArchiveFile.open(file);
    const chunk = randomBytes(1 << 16);
    const count = Math.ceil((2 * writebackEvery + batchBytes) / chunk.length);
    for (let i = 0; i < count; i++) await out.write(chunk.subarray(0, chunk.length - (i % 512)));
    await out.flush();
    await out.syncAndClose();
    const got = await readFile(file);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const n = chunk.length - (i % 512);
      expect(got.subarray(at, at + n).equals(chunk.subarray(0, n))).toBe(true);
      at += n;
    }
    expect(got.length).toBe(at);
  });

  it('copies each chunk: the caller may reuse its buffer as soon as write returns', async () => {
    const file = path.join(dir, 'd.tar.partial');
    const out = await ArchiveFile.open(file);
    const scratch = Buffer.alloc(300_000);
    const want: Buffer[] = [];
    // Fills straddle batch boundaries; every chunk is overwritten right after it is handed over.
    for (let i = 0; i < 12; i++) {
      scratch.fill(i + 1);
      want.push(Buffer.from(scratch));
      const wait = out.write(scratch);
      scratch.fill(0xee);
      if (wait !== undefined) await wait;
    }
    await out.flush();
    await out.syncAndClose();
    expect((await readFile(file)).equals(Buffer.concat(want))).toBe(true);
  });

  it('asks for no wait below one batch and keeps the bytes until flush', async () => {
    const file = path.join(dir, 'b.tar.partial');
    const out = await ArchiveFile.open(file);
    expect(out.write(Buffer.alloc(batchBytes - 1, 7))).toBeUndefined();
    expect((await readFile(file)).length).toBe(0);
    await out.flush();
    expect((await readFile(file)).length).toBe(batchBytes - 1);
    await out.syncAndClose();
  });

  it('keeps the first write error (ENOSPC on /dev/full) and returns it from every later call', async () => {
    const out = await ArchiveFile.open('/dev/full');
    expect(out.write(Buffer.alloc(batchBytes, 1))).toBeUndefined();
    await expect(out.flush()).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(out.write(Buffer.alloc(10))).rejects.toMatchObject({ code: 'ENOSPC' });
    await expect(out.syncAndClose()).rejects.toMatchObject({ code: 'ENOSPC' });
  });
});

describe('dropBytes', () => {
  const bufs = () => [Buffer.from('abc'), Buffer.from('de'), Buffer.from('fgh')];
  it.each([
    [0, 'abc|de|fgh'],
    [2, 'c|de|fgh'],
    [3, 'de|fgh'],
    [4, 'e|fgh'],
    [7, 'h'],
    [8, ''],
  ])('drops %i bytes', (n, want) => {
    expect(
      dropBytes(bufs(), n)
        .map((b) => b.toString())
        .join('|'),
    ).toBe(want);
  });
});
