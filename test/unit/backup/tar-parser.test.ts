import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tarStream from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { TarFormatError, TarParser, type TarMember } from '../../../src/backup/tar-parser.js';

// tar-stream, the library the parser replaced on the backup's hot path, is the reference:
// the same members, names, types, sizes and link names, on archives real GNU tar writes.

const root = mkdtempSync(path.join(tmpdir(), 'node-ca-tar-parser-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

const long = 'a-directory-name-long-enough-that-with-its-parents-the-member-name-passes-one-hundred-bytes';
function tree(): void {
  const src = path.join(root, 'src');
  mkdirSync(path.join(src, 'empty-dir'), { recursive: true });
  mkdirSync(path.join(src, long, 'deeper'), { recursive: true });
  writeFileSync(path.join(src, 'empty'), '');
  writeFileSync(path.join(src, 'one byte'), 'x');
  writeFileSync(path.join(src, 'zwölf ünïcødé 名前'), randomBytes(12_345));
  writeFileSync(path.join(src, long, 'deeper', 'a-file-with-a-long-name-too.bin'), randomBytes(70_000));
  writeFileSync(path.join(src, 'record-sized'), randomBytes(10_240));
  symlinkSync('one byte', path.join(src, 'short-link'));
  symlinkSync(path.join(long, 'deeper', 'a-file-with-a-long-name-too.bin', long), path.join(src, 'long-link'));
  execFileSync('ln', [path.join(src, 'record-sized'), path.join(src, 'hard')]);
  // Member names of exactly 100 bytes fill the header's name field, with no NUL and no long-name member.
  mkdirSync(path.join(src, 'd'.repeat(95)));
  writeFileSync(path.join(src, 'f'.repeat(96)), 'y');
  symlinkSync('t'.repeat(100), path.join(src, 'link-to-100-bytes'));
  execFileSync('ln', [path.join(src, long, 'deeper', 'a-file-with-a-long-name-too.bin'), path.join(src, long, 'hard-with-a-long-name-and-a-long-target')]);
}
tree();

function archive(format: string): Buffer {
  return execFileSync('tar', [`--format=${format}`, '-cf', '-', '-C', root, 'src'], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
}

function parse(bytes: Buffer, chunkSize: number): TarMember[] {
  const members: TarMember[] = [];
  const parser = new TarParser((m) => members.push(m));
  for (let at = 0; at < bytes.length; at += chunkSize) parser.push(bytes.subarray(at, at + chunkSize));
  parser.end();
  return members;
}

async function reference(bytes: Buffer): Promise<TarMember[]> {
  const members: TarMember[] = [];
  const extract = tarStream.extract();
  extract.on('entry', (h, stream, next) => {
    members.push({ name: h.name, type: h.type, size: h.size, ...(h.linkname ? { linkname: h.linkname } : {}) });
    stream.on('end', () => {
      next();
    });
    stream.resume();
  });
  const done = new Promise((resolve, reject) => {
    extract.on('finish', () => {
      resolve(undefined);
    });
    extract.on('error', reject);
  });
  extract.end(bytes);
  await done;
  return members;
}

const strip = (ms: TarMember[]) => ms.map((m) => ({ name: m.name, type: m.type, size: m.size, ...(m.linkname === undefined ? {} : { linkname: m.linkname }) }));

describe('TarParser', () => {
  it.each(['gnu', 'posix', 'ustar', 'oldgnu'])('reads GNU tar --format=%s as tar-stream does, however the bytes are cut', async (format) => {
    // ustar has no long names: tar skips them with a warning and exits 2.
    let bytes: Buffer;
    try {
      bytes = archive(format);
    } catch (err) {
      bytes = (err as { stdout: Buffer }).stdout;
    }
    const want = await reference(bytes);
    expect(want.length).toBeGreaterThanOrEqual(format === 'ustar' ? 8 : 13);
    for (const size of [1, 100, 511, 512, 513, 4096, 65_536, bytes.length]) expect(strip(parse(bytes, size)), `${format}, ${size}-byte chunks`).toEqual(want);
  });

  it('hashes each regular file (sha256sum of the file), whole in a chunk or split across many', () => {
    const sums = new Map(
      execFileSync('sh', ['-c', 'find src -type f -print0 | xargs -0 sha256sum'], { cwd: root, encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((line) => [line.slice(66), line.slice(0, 64)]),
    );
    const bytes = archive('gnu');
    for (const size of [7, 1 << 20]) {
      const files = parse(bytes, size).filter((m) => m.type === 'file');
      expect(files.length).toBeGreaterThanOrEqual(5);
      for (const m of files) expect(m.sha256, m.name).toBe(sums.get(m.name));
    }
  });

  it('refuses a corrupt header and a truncated archive', () => {
    const bytes = archive('gnu');
    expect(parse(bytes, 4096)[0]).toMatchObject({ name: 'src/', type: 'directory' });
    // The first member (src/) has no data: the second header starts at 512. One bit of its name flipped:
    const bad = Buffer.from(bytes);
    bad[512 + 10] = (bad[512 + 10] ?? 0) ^ 0x01;
    expect(() => parse(bad, 4096)).toThrow(TarFormatError);
    expect(() => parse(bad, 4096)).toThrow(/checksum/);
    expect(() => parse(bytes.subarray(0, 512 + 100), 4096)).toThrow(/unexpected end/);
  });

  it('reads a base-256 size field (GNU, for files of 8 GiB and more)', () => {
    const header = Buffer.alloc(512);
    header.write('big', 0);
    header.write('0000644\0', 100);
    header[124] = 0x80;
    header.writeUInt32BE(1000, 132);
    header.write('0', 156);
    header.write('ustar  \0', 257, 'latin1');
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of header) sum += b;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const data = randomBytes(1000);
    const members = parse(Buffer.concat([header, data, Buffer.alloc(24), Buffer.alloc(1024)]), 300);
    expect(members).toEqual([{ name: 'big', type: 'file', size: 1000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown }]);
  });
});
