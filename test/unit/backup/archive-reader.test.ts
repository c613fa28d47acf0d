import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createArchiveReader, type ArchiveMember } from '../../../src/backup/archive-reader.js';

const root = mkdtempSync(path.join(tmpdir(), 'node-ca-reader-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A tree with an empty file, small files, one of several tar records and a hard link; its real tar. */
function fixture(): { archive: Buffer; contents: Map<string, Buffer> } {
  const src = path.join(root, 'src');
  mkdirSync(path.join(src, 'd'), { recursive: true });
  const contents = new Map<string, Buffer>([
    ['src/empty', Buffer.alloc(0)],
    ['src/one', Buffer.from('x')],
    ['src/d/small', randomBytes(4096 + 17)],
    ['src/d/big', randomBytes(200_000)],
  ]);
  for (const [name, data] of contents) writeFileSync(path.join(root, name), data);
  execFileSync('ln', [path.join(src, 'd/small'), path.join(src, 'hardlink')]);
  return { archive: execFileSync('tar', ['-cf', '-', '-C', root, 'src'], { maxBuffer: 16 << 20 }), contents };
}

async function parse(archive: Buffer, chunkSize: number, linkTargets: Set<string>): Promise<ArchiveMember[]> {
  const members: ArchiveMember[] = [];
  const reader = createArchiveReader((m) => members.push(m), linkTargets);
  const done = new Promise((resolve, reject) => {
    reader.on('finish', resolve);
    reader.on('error', reject);
  });
  for (let at = 0; at < archive.length; at += chunkSize) reader.write(archive.subarray(at, at + chunkSize));
  reader.end();
  await done;
  return members;
}

describe('archive reader', () => {
  const { archive, contents } = fixture();
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  // Whole files in one chunk take the one-call hash; files split across chunks the incremental one.
  it.each([1, 511, 512, 10_240, 65_536, archive.length])('hashes every file the same however the stream is cut (%i-byte chunks)', async (chunkSize) => {
    // Which of the two names tar stores with data depends on readdir order: both may be the target.
    const members = await parse(archive, chunkSize, new Set(['src/d/small', 'src/hardlink']));
    const byName = new Map(members.map((m) => [m.name, m]));
    for (const [name, data] of contents) {
      expect(byName.get(name)?.sha256, name).toBe(sha(data));
      if (byName.get(name)?.type === 'file') expect(byName.get(name)?.size, name).toBe(data.length);
    }
    const links = members.filter((m) => m.type === 'link');
    expect(links).toHaveLength(1);
    expect(byName.get('src/hardlink')?.sha256).toBe(sha(contents.get('src/d/small') ?? Buffer.alloc(0)));
    expect(byName.get('src/d/')?.sha256).toBeUndefined();
  });
});
