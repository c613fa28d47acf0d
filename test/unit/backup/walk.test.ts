import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HelperLost, readNames, ScanHelper } from '../../../src/backup/walk-scan.js';
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
    const helper = new ScanHelper();
    const split = await walkSource(src, { helper });
    expect(helper.entries).toBeGreaterThan(100);
    const alone = await walkSource(src, { helper: false });
    expect(summary(split)).toEqual(summary(alone));

    const archive = path.join(root, 'a.tar');
    const prefix = memberPrefix(src);
    execFileSync('tar', ['-cf', archive, '-C', '/', prefix]);
    const members = execFileSync('tar', ['--quoting-style=literal', '-tf', archive], { encoding: 'utf8' }).split('\n').filter(Boolean);
    expect(members).toEqual([...split.entries].map(([rel, e]) => memberName(prefix, rel, e.type)));
    const linked = execFileSync('tar', ['--quoting-style=literal', '-tvf', archive], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('h'));
    expect(linked).toHaveLength(3);
    expect(split.expectedArchiveBytes).toBe(Number(execFileSync('stat', ['-c', '%s', archive], { encoding: 'utf8' })));
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

  it('walks on alone when the helper thread runs out of heap, and the walk is the same', async () => {
    const src = path.join(root, 'big');
    for (let d = 0; d < 80; d++) {
      const dir = path.join(src, `dir-${d}`);
      await mkdir(dir, { recursive: true });
      for (let i = 0; i < 100; i++) await writeFile(path.join(dir, `${'long-object-name-'.repeat(8)}${i}`), '');
    }
    // 4 MiB of heap: the far half's 4,000 long paths do not fit.
    const helper = new ScanHelper(4);
    const walked = await walkSource(src, { helper });
    expect(helper.entries).toBe(0);
    await expect(helper.scan(src, '', ['dir-0'])).rejects.toBeInstanceOf(HelperLost);
    expect(summary(walked)).toEqual(summary(await walkSource(src, { helper: false })));
    expect(walked.entries.size).toBe(1 + 80 + 8000);
  });

  it('rejects with the error code of an lstat that failed on the helper thread', async () => {
    const helper = new ScanHelper();
    try {
      await expect(helper.scan(root, '', ['x'.repeat(300)])).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
      // It keeps answering after an error.
      await writeFile(path.join(root, 'f'), 'x');
      expect((await helper.scan(root, '', ['f', 'gone'])).rels).toEqual(['f']);
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
});
