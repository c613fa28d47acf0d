import { constants, lstatSync, readlinkSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { archiveBytes, memberBytesOf, type MemberType } from './tar-size.js';
import { WalkTable, type WalkEntries } from './walk-table.js';
import { BatchBuilder, readNames, ScanHelper, type ScanBatch, type SplitScan, type StatFields } from './walk-scan.js';

/** One walked entry, keyed by its path relative to the source ('' is the source itself). */
export interface WalkEntry {
  readonly type: MemberType | 'socket';
  readonly size: number;
  readonly mtimeMs: number;
  /** Position in walk order (lets a verifier mark entries seen in a flat array). */
  readonly index: number;
}

export interface SourceWalk {
  readonly entries: WalkEntries;
  /** Regular files and their content bytes, each inode once (tar stores further hard links as links). */
  readonly files: number;
  readonly bytes: number;
  /** Allocated blocks × 512 of every inode once, as `du` counts. */
  readonly diskBytes: number;
  readonly expectedArchiveBytes: number;
  /** Member names of the first link of every inode with several hard links. */
  readonly linkTargets: ReadonlySet<string>;
  /** Size of the `.manifest` sidecar (one sha256sum line per file and hard link). */
  readonly manifestBytes: number;
}

/** The archive member name prefix of a source: `/cpaas/minio` → `cpaas/minio`. */
export function memberPrefix(sourceDir: string): string {
  return path.resolve(sourceDir).replace(/^\/+/, '');
}

/** Archive name of a relative path: what `tar -cf - -C / cpaas/minio` writes. `memberNameBytes` is its length, and must stay in step. */
export function memberName(prefix: string, rel: string, type: WalkEntry['type']): string {
  const name = rel === '' ? prefix : `${prefix}/${rel}`;
  return type === 'directory' ? `${name}/` : name;
}

interface WalkState {
  root: string;
  prefix: string;
  /** UTF-8 length of `prefix`. */
  prefixBytes: number;
  entries: WalkTable;
  inodes: Map<string, string>;
  files: number;
  bytes: number;
  diskBytes: number;
  members: number;
  visited: number;
  manifestBytes: number;
  /** What to do with each entry: record it, or compare it with an earlier walk. */
  onEntry: (s: WalkState, rel: string, st: StatFields) => void;
  /** Called before an entry is looked at; the walk waits for the promise it may return. */
  beforeEntry?: (s: WalkState, rel: string) => Promise<void> | undefined;
  compare?: Compare;
  /** The first walk's helper thread, which takes half of a wide directory when it is idle. */
  helper?: ScanHelper;
}

interface Compare {
  before: SourceWalk;
  seen: Uint8Array;
  changed: string[];
  /** The position after the last entry found in the first walk (where the next one is expected). */
  next: number;
  /** The first walk's entry for the path being looked at (found in `beforeEntry`). */
  current: WalkEntry | undefined;
}

/**
 * Holds the second walk behind tar: resolves once the archive has gone past
 * the first walk's entry at `index`, or returns undefined when it already
 * has. Rejects when the backup has failed (the walk then stops).
 */
export type WalkGate = (index: number) => Promise<void> | undefined;

function newState(sourceDir: string, onEntry: WalkState['onEntry']): WalkState {
  const root = path.resolve(sourceDir);
  const prefix = memberPrefix(root);
  return { root, prefix, prefixBytes: Buffer.byteLength(prefix), entries: new WalkTable(), inodes: new Map(), files: 0, bytes: 0, diskBytes: 0, members: 0, visited: 0, manifestBytes: 0, onEntry };
}

/**
 * lstat-based walk in GNU tar's own order (depth first, directory entries in
 * readdir order), so the first name of a hard-linked inode is the one tar
 * stores with data and the others become links to it.
 *
 * The lstats, most of its time, run on two cores: while the main thread
 * walks one half of a wide directory, a helper thread (walk-scan.ts) walks
 * the subtrees of the other half from the front, sending batches as it
 * goes; the main thread then records those, in order, and while none is
 * waiting walks the names left from the back, until the two meet. The walk
 * is serial work before tar may start (the free-space preflight needs its
 * figure), while the second core is idle. `helper: false` walks on the
 * main thread alone.
 */
export async function walkSource(sourceDir: string, options: { helper?: ScanHelper | false } = {}): Promise<SourceWalk> {
  const s = newState(sourceDir, record);
  if (options.helper !== false) s.helper = options.helper ?? new ScanHelper();
  try {
    await visit(s, '', await lstat(s.root));
  } finally {
    await s.helper?.close();
  }
  const { entries, files, bytes, diskBytes, manifestBytes } = s;
  return { entries, files, bytes, diskBytes, manifestBytes, expectedArchiveBytes: archiveBytes(s.members), linkTargets: new Set(s.inodes.values()) };
}

/**
 * The second walk, compared on the fly with the first (nothing stored):
 * paths whose type, size or mtime differ, that appeared or that vanished.
 *
 * With a `gate` it follows tar through the tree instead of starting after
 * it: an entry is looked at only once tar has archived it, and a directory
 * is read only once tar has gone past it (so tar has listed it: anything
 * tar found there that the first walk did not, this walk finds too). Every
 * entry is still compared after tar has read it, which is what the
 * comparison is for, and the walk's cost hides inside the stream's time
 * instead of adding to it.
 */
export async function walkChanges(sourceDir: string, before: SourceWalk, gate?: WalkGate): Promise<string[]> {
  const s = newState(sourceDir, compareEntry);
  const compare: Compare = { before, seen: new Uint8Array(before.entries.size), changed: [], next: 0, current: undefined };
  s.compare = compare;
  s.beforeEntry = (_s, rel) => {
    const a = before.entries.get(rel, compare.next);
    compare.current = a;
    if (a === undefined || gate === undefined) return undefined;
    // A directory waits for the entry after it: tar has listed it by then.
    return gate(a.type === 'directory' ? a.index + 1 : a.index);
  };
  await s.beforeEntry(s, '');
  await visit(s, '', await lstat(s.root));
  for (const [rel, e] of before.entries) if (compare.seen[e.index] === 0) compare.changed.push(rel);
  return compare.changed;
}

function compareEntry(s: WalkState, rel: string, st: StatFields): void {
  const c = s.compare;
  if (c === undefined) return;
  const type = linkAwareType(s, rel, st);
  const a = c.current;
  if (a !== undefined) {
    c.seen[a.index] = 1;
    c.next = a.index + 1;
  }
  const size = type === 'file' ? st.size : 0;
  if (a === undefined || a.type !== type || a.size !== size || a.mtimeMs !== st.mtimeMs) c.changed.push(rel);
}

/** The entry's type as tar stores it: a file already walked under another name (a hard link) is a link. */
function linkAwareType(s: WalkState, rel: string, st: StatFields): WalkEntry['type'] {
  const type = typeOf(st);
  const inode = linkedInode(st, type);
  if (inode === undefined) return type;
  if (s.inodes.has(inode)) return 'link';
  s.inodes.set(inode, rel);
  return type;
}

/** The inode key of a file that has other hard links (tar stores all but the first one walked as links to it). */
function linkedInode(st: StatFields, type: WalkEntry['type']): string | undefined {
  return type === 'file' && st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined;
}

/** One entry and, for a directory, everything under it: near half here, far half shared with the helper when idle. */
async function visit(s: WalkState, rel: string, st: StatFields): Promise<void> {
  s.onEntry(s, rel, st);
  if (!isDirectory(st)) return;
  const dir = path.join(s.root, rel);
  const names = readNames(dir);
  const here = { rel, dir, names };
  const split = handOff(s, rel, names);
  if (split === undefined) return walkNames(s, here, 0, names.length);
  const half = names.length - split.names.length;
  await walkNames(s, here, 0, half);
  await finishSplit(s, here, half, split);
}

/**
 * The far half of a split directory (names from `half`), in order: the
 * helper's batches are recorded as they arrive; while none is waiting, this
 * thread claims names from the back and walks them into batches of its own,
 * recorded after the helper's. If the helper is lost, the names it claimed
 * but did not send are walked here.
 */
async function finishSplit(s: WalkState, at: Dir, half: number, split: SplitScan): Promise<void> {
  const stolen: ScanBatch[] = [];
  for (;;) {
    const batch = split.take();
    if (batch !== undefined) await recordHelped(s, batch);
    else if (split.finished) break;
    else {
      const j = split.steal();
      if (j === undefined) await split.changed();
      else stolen.push(await collect(s, at, half + j));
    }
  }
  if (split.lost !== undefined) {
    // The helper thread is gone: this thread walks on alone, its unsent names first.
    s.helper = undefined;
    await walkNames(s, at, half + split.delivered, half + split.stolenFrom);
  } else if (split.delivered !== split.stolenFrom) {
    throw new Error(`node-ca bug in the walk of ${at.dir}: its helper thread sent names up to ${split.delivered}, the main thread took them from ${split.stolenFrom}; please report it (starting the backup again walks the source again)`);
  }
  for (let k = stolen.length - 1; k >= 0; k--) await recordHelped(s, stolen[k] as ScanBatch);
}

/** The entries of `names[i]` and its subtree, walked here into a batch (recorded later, in order). */
async function collect(s: WalkState, at: Dir, i: number): Promise<ScanBatch> {
  const out = new BatchBuilder();
  const onEntry = s.onEntry;
  s.onEntry = (_s, rel, st) => {
    out.add(rel, st);
  };
  try {
    await walkNames(s, at, i, i + 1);
  } finally {
    s.onEntry = onEntry;
  }
  return out.build();
}

interface Dir {
  rel: string;
  dir: string;
  names: readonly string[];
}

/**
 * `names[from..to)` of the directory `rel` (at `dir`), each with its subtree.
 * Synchronous lstat (a few µs each, no thread-pool round trip: the async
 * form made a 200,000-file walk take tens of seconds), yielding to the event
 * loop every few hundred entries so the agent keeps answering.
 */
async function walkNames(s: WalkState, at: Dir, from: number, to: number): Promise<void> {
  const { rel, dir, names } = at;
  for (let i = from; i < to; i++) {
    const name = names[i] ?? '';
    const child = rel === '' ? name : `${rel}/${name}`;
    const wait = s.beforeEntry?.(s, child);
    if (wait !== undefined) await wait;
    // A name removed since readdir (a live MinIO) is skipped here; the other walk reports it.
    const cst = lstatSync(`${dir}/${name}`, { throwIfNoEntry: false });
    if (cst === undefined) continue;
    if (cst.isDirectory()) await visit(s, child, cst);
    else s.onEntry(s, child, cst);
    if (++s.visited % yieldEvery === 0) await nextTurn();
  }
}

/** The far half of a wide directory is shared with the helper when it is idle. */
function handOff(s: WalkState, rel: string, names: readonly string[]): SplitScan | undefined {
  if (s.helper?.idle !== true || names.length < splitAtLeast) return undefined;
  return s.helper.split(s.root, rel, names.slice(names.length >> 1));
}

/** The helper's entries, where the main thread has got to them (their walk order). */
async function recordHelped(s: WalkState, batch: ScanBatch): Promise<void> {
  const fields: StatFields = { mode: 0, size: 0, mtimeMs: 0, nlink: 0, dev: 0, ino: 0, blocks: 0 };
  for (let i = 0; i < batch.rels.length; i++) {
    s.onEntry(s, batch.rels[i] ?? '', batch.stat(i, fields));
    if (++s.visited % yieldEvery === 0) await nextTurn();
  }
}

/** Walks yield to the event loop every few hundred entries, so the agent keeps answering. */
const yieldEvery = 512;

function nextTurn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Fewer names than this are not worth a round trip to the helper thread. */
const splitAtLeast = 64;

function isDirectory(st: StatFields): boolean {
  return (st.mode & constants.S_IFMT) === constants.S_IFDIR;
}

function typeOf(st: StatFields): WalkEntry['type'] {
  switch (st.mode & constants.S_IFMT) {
    case constants.S_IFREG:
      return 'file';
    case constants.S_IFDIR:
      return 'directory';
    case constants.S_IFLNK:
      return 'symlink';
    case constants.S_IFSOCK:
      return 'socket';
    default:
      return 'other';
  }
}

function record(s: WalkState, rel: string, st: StatFields): void {
  let type = typeOf(st);
  // tar skips sockets ("socket ignored"); they are kept for change detection only.
  const nameBytes = memberNameBytes(s, rel, type);
  const inode = linkedInode(st, type);
  let linkTarget = inode === undefined ? undefined : s.inodes.get(inode);
  if (linkTarget !== undefined) type = 'link';
  else {
    if (inode !== undefined) s.inodes.set(inode, memberName(s.prefix, rel, type));
    countContent(s, st, type);
  }
  if (type === 'file' || type === 'link') s.manifestBytes += 68 + nameBytes;
  if (type === 'symlink') linkTarget = readlinkSync(path.join(s.root, rel));
  s.entries.add(rel, { type, size: type === 'file' ? st.size : 0, mtimeMs: st.mtimeMs });
  if (type !== 'socket') s.members += memberBytesOf(nameBytes, type, st.size, linkTarget === undefined ? 0 : Buffer.byteLength(linkTarget));
}

/** `Buffer.byteLength(memberName(s.prefix, rel, type))`, without building the name (one string less per entry): prefix, `/rel`, a directory's `/`. */
function memberNameBytes(s: WalkState, rel: string, type: WalkEntry['type']): number {
  return s.prefixBytes + (rel === '' ? 0 : 1 + Buffer.byteLength(rel)) + (type === 'directory' ? 1 : 0);
}

/** Files, their bytes and disk blocks (`du`), each inode once. */
function countContent(s: WalkState, st: StatFields, type: WalkEntry['type']): void {
  s.diskBytes += st.blocks * 512;
  if (type === 'file') {
    s.files += 1;
    s.bytes += st.size;
  }
}
