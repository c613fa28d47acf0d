import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Trail } from '../../../src/backup/trail.js';
import { walkChanges, walkSource } from '../../../src/backup/walk.js';

describe('Trail', () => {
  it('opens a gate once the archive has passed the index, at the end, and rejects waiters on abort', async () => {
    let passed = 0;
    const trail = new Trail(() => passed);
    expect(trail.gate(-1)).toBeUndefined();
    let opened = false;
    const wait = trail.gate(3)?.then(() => (opened = true));
    expect(wait).toBeDefined();
    passed = 3;
    trail.poke();
    await Promise.resolve();
    expect(opened).toBe(false);
    passed = 4;
    trail.poke();
    await wait;
    expect(opened).toBe(true);

    const late = trail.gate(100);
    trail.end();
    await late;
    expect(trail.gate(1000)).toBeUndefined();

    const other = new Trail(() => 0);
    const held = other.gate(0);
    other.abort(new Error('stream failed'));
    await expect(held).rejects.toThrow('stream failed');
    await expect(other.gate(0)).rejects.toThrow('stream failed');
  });
});

// The second walk with a gate: it looks at an entry only once the gate for it
// is open, so a change made before that is seen, and one made after is not.
describe('walkChanges behind a gate', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'node-ca-trail-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('compares each entry when its gate opens, not before', async () => {
    const src = path.join(root, 'src');
    await mkdir(path.join(src, 'd'), { recursive: true });
    for (const f of ['a', 'd/b', 'd/c', 'e']) await writeFile(path.join(src, f), 'x');
    const before = await walkSource(src);
    // Walk order is readdir order (tar's), whatever the filesystem makes it.
    const files = [...before.entries].filter(([, e]) => e.type === 'file').map(([rel, e]) => ({ rel, index: e.index }));
    const [first, ...rest] = files;
    if (first === undefined) throw new Error('no files walked');

    let passed = 0;
    const trail = new Trail(() => passed);
    const asked: number[] = [];
    const walking = walkChanges(src, before, (i) => {
      asked.push(i);
      return trail.gate(i);
    });
    const until = async (cond: () => boolean) => {
      const deadline = Date.now() + 5000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((r) => setImmediate(r));
      }
    };
    // The walk waits at the source directory itself until tar has gone past it (the entry after it).
    await until(() => asked.length === 1);
    expect(asked).toEqual([1]);

    // tar has archived the first file: the walk compares it (unchanged) and waits at the next entry.
    passed = first.index + 1;
    trail.poke();
    await until(() => (asked.at(-1) ?? 0) >= passed);
    // Now every file changes. The ones the walk has not reached yet (tar has not archived
    // them either) are changes; the first was compared after tar archived it, so it is not.
    const later = new Date(Date.now() + 60_000);
    for (const f of files) await utimes(path.join(src, f.rel), later, later);
    trail.end();
    expect((await walking).sort()).toEqual(rest.map((f) => f.rel).sort());
    expect(rest.length).toBeGreaterThan(0);
  });
});
