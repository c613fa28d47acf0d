import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HelperLost, readNames, ScanHelper, type SplitScan } from '../../../src/backup/walk-scan.js';
import { memberName, memberPrefix, walkSource, type SourceWalk } from '../../../src/backup/walk.js';

// The first walk runs on two threads: the main thread walks one half of a
// wide directory while the helper thread walks the subtrees of the other.
// The walk must be the one a single thread makes, in GNU tar's own order.
describe('walkSource with its helper thread', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'node-ca-walk-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A tree whose wide directories split, with hard links across the halves, symlinks, empty dirs, odd names. */
  async function makeTree(src: string): Promise<void> {
    await mkdir(src, { recursive: true });
    for (let i = 0; i < 80; i++) {
      const d = path.join(src, `obj ${i} é`);
      if (i % 4 === 0) {
        // Wide enough to split again when the helper is idle.
        await mkdir(d);
        for (let k = 0; k < 70; k++) await writeFile(path.join(d, `part.${k}`), `${i}:${k}`.repeat(k));
      } else if (i % 4 === 1) {
        await mkdir(path.join(d, 'empty'), { recursive: true });
        await writeFile(path.join(d, `${'n'.repeat(120)}.xl.meta`), `meta ${i}`);
      } else if (i % 4 === 2) {
        await writeFile(d, `file ${i}`);
      } else {
        await symlink(`../target-${i}`, d);
      }
    }
    // Hard links whose first name is on one thread and the others on the other (in either order).
    await link(path.join(src, 'obj 2 é'), path.join(src, 'obj 0 é', 'link-to-2'));
    await link(path.join(src, 'obj 0 é', 'part.5'), path.join(src, 'obj 79 é hard'));
    await link(path.join(src, 'obj 76 é', 'part.1'), path.join(src, 'obj 1 é', 'link-to-76'));
  }

  function summary(w: SourceWalk) {
    const { files, bytes, diskBytes, expectedArchiveBytes, manifestBytes } = w;
    return { entries: [...w.entries], files, bytes, diskBytes, expectedArchiveBytes, manifestBytes, linkTargets: [...w.linkTargets].sort() };
  }

  it('gives the single-thread walk, entry for entry, and the members and size GNU tar writes', async () => {
    const src = path.join(root, 'src');
    await makeTree(src);
    // At GNU tar's boundary (a long-name member for a name over 100 bytes): files of exactly 100 bytes,
    // and directories of 100 before their `/` (20 of each, so a miscount of their long-name members
    // shows through the 10240-byte rounding).
    const room = 100 - Buffer.byteLength(memberPrefix(src)) - 1;
    for (let i = 0; i < 20; i++) {
      const tail = String(i).padStart(2, '0');
      await mkdir(path.join(src, `${'d'.repeat(room - 2)}${tail}`));
      await writeFile(path.join(src, `${'f'.repeat(room - 2)}${tail}`), 'x');
    }
    const alone = await walkSource(src, { helper: false });
    // Which names each thread walks depends on timing: the walk must not. Walks until the helper took part in one.
    let split = alone;
    let helped = 0;
    for (let attempt = 0; attempt < 5 && helped === 0; attempt++) {
      const helper = new ScanHelper();
      await settle(helper.split(src, '', [])); // started before the walk, so it gets names to walk
      split = await walkSource(src, { helper });
      helped = helper.entries;
      expect(summary(split)).toEqual(summary(alone));
    }
    expect(helped).toBeGreaterThan(0);

    const archive = path.join(root, 'a.tar');
    const prefix = memberPrefix(src);
    execFileSync('tar', ['-cf', archive, '-C', '/', prefix]);
    const members = execFileSync('tar', ['--quoting-style=literal', '-tf', archive], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(members).toEqual([...split.entries].map(([rel, e]) => memberName(prefix, rel, e.type)));
    const linked = execFileSync('tar', ['--quoting-style=literal', '-tvf', archive], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('h'));
    expect(linked).toHaveLength(3);
    expect(split.expectedArchiveBytes).toBe(Number(execFileSync('stat', ['-c', '%s', archive], { encoding: 'utf8' })));
    // The manifest's size, for the preflight: a sha256sum line (64 + 2 + name + newline, and 1 for an escape) per file and hard link.
    const manifest = [...split.entries].filter(([, e]) => e.type === 'file' || e.type === 'link').map(([rel, e]) => 68 + Buffer.byteLength(memberName(prefix, rel, e.type)));
    expect(split.manifestBytes).toBe(manifest.reduce((a, b) => a + b, 0));
  });

  it('walks a tree with no wide directory on the main thread alone', async () => {
    const src = path.join(root, 'small');
    await mkdir(path.join(src, 'd'), { recursive: true });
    await writeFile(path.join(src, 'd', 'f'), 'x');
    const helper = new ScanHelper();
    const w = await walkSource(src, { helper });
    expect(helper.entries).toBe(0);
    expect(w.files).toBe(1);
  });

  /** The paths a split's batches bring, once the helper is done with it. */
  async function settle(split: SplitScan): Promise<string[]> {
    const rels: string[] = [];
    for (;;) {
      const batch = split.take();
      if (batch !== undefined) rels.push(...batch.rels);
      else if (split.finished) return rels;
      else await split.changed();
    }
  }

  it('shares the far names: the helper takes them from the front, the main thread from the back, each name once', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `f${i}`);
    for (const n of names) await writeFile(path.join(root, n), n);
    const helper = new ScanHelper({ flushAt: 1 });
    try {
      // The helper thread is still starting: the main thread claims every name.
      const early = helper.split(root, '', names);
      const stolen: number[] = [];
      for (let j = early.steal(); j !== undefined; j = early.steal()) stolen.push(j);
      expect(stolen).toEqual([...names.keys()].reverse());
      expect(await settle(early)).toEqual([]);
      expect([early.delivered, early.stolenFrom]).toEqual([0, 0]);
      // Started: it takes them all, one batch per name, in order; nothing is left to claim.
      const late = helper.split(root, '', names);
      expect(await settle(late)).toEqual(names);
      expect(late.steal()).toBeUndefined();
      expect([late.delivered, late.stolenFrom]).toEqual([200, 200]);
    } finally {
      await helper.close();
    }
  });

  it('walks on alone when the helper thread is lost midway, and the walk is the same', async () => {
    const src = path.join(root, 'big');
    // Roles go by readdir position (the filesystem's order), so every name is a directory.
    for (let d = 0; d < 64; d++) await mkdir(path.join(src, `e-${d}`), { recursive: true });
    const names = readNames(src);
    const fill = async (name: string, files: number) => {
      for (let i = 0; i < files; i++) await writeFile(path.join(src, name, `o${i}`), '');
    };
    // The near half keeps the main thread busy while the helper takes the far half from the
    // front: small directories, sent one by one, then a big one, then more.
    for (const name of names.slice(0, 32)) await fill(name, 300);
    const far = names.slice(32);
    for (const name of far.slice(0, 10)) await fill(name, 10);
    await fill(far[10] ?? '', 8000);
    for (const name of far.slice(11)) await fill(name, 1);

    const helper = new ScanHelper({ flushAt: 1 });
    // Started before the walk, so it takes names as soon as they are shared.
    await settle(helper.split(src, '', []));
    let walkEnded = false;
    const walking = walkSource(src, { helper }).finally(() => {
      walkEnded = true;
    });
    // The thread ends (as when it runs out of heap) once it has sent its first directories.
    const deadline = Date.now() + 10_000;
    while (helper.entries === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
    expect(helper.entries).toBeGreaterThan(0);
    expect(walkEnded).toBe(false);
    await helper.close();
    const walked = await walking;
    expect(helper.split(src, '', [names[0] ?? '']).lost).toBeInstanceOf(HelperLost);
    expect(summary(walked)).toEqual(summary(await walkSource(src, { helper: false })));
    expect(walked.entries.size).toBe(1 + 32 * 301 + 10 * 11 + 8001 + 21 * 2);
  });

  it('reports the error code of an lstat that failed on the helper thread', async () => {
    const helper = new ScanHelper();
    try {
      await expect(settle(helper.split(root, '', ['x'.repeat(300)]))).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
      // It keeps answering after an error; a name gone since readdir is skipped.
      await writeFile(path.join(root, 'f'), 'x');
      expect(await settle(helper.split(root, '', ['f', 'gone']))).toEqual(['f']);
    } finally {
      await helper.close();
    }
  });
});

describe('readNames', () => {
  it('reads nothing from a directory removed or replaced since its lstat, as a live MinIO may do', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'node-ca-names-'));
    try {
      await writeFile(path.join(root, 'file'), 'x');
      expect(readNames(path.join(root, 'gone'))).toEqual([]);
      expect(readNames(path.join(root, 'file'))).toEqual([]);
      expect(readNames(root)).toEqual(['file']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a name that is not UTF-8, showing its bytes, and keeps a real U+FFFD', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'node-ca-names-'));
    try {
      await writeFile(path.join(root, 'caf\uFFFD'), 'a real replacement character is valid UTF-8');
      expect(readNames(root)).toEqual(['caf\uFFFD']);
      await mkdir(path.join(root, 'dir'));
      await writeFile(Buffer.concat([Buffer.from(path.join(root, 'dir', 'caf')), Buffer.from([0xe9])]), 'latin1 name');
      expect(() => readNames(path.join(root, 'dir'))).toThrow(expect.objectContaining({ code: 'EILSEQ', message: expect.stringContaining('dir/caf\\xe9: a file name that is not UTF-8') as string }));
      await expect(walkSource(root)).rejects.toMatchObject({ code: 'EILSEQ' });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
