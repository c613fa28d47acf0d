import type { Stats } from 'node:fs';
import { lstat, opendir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { archiveBytes, memberBytes, type MemberType } from './tar-size.js';

/** One walked entry, keyed by its path relative to the source ('' is the source itself). */
export interface WalkEntry {
  readonly type: MemberType | 'socket';
  readonly size: number;
  readonly mtimeMs: number;
  /** Position in walk order (lets a verifier mark entries seen in a flat array). */
  readonly index: number;
}

export interface SourceWalk {
  readonly entries: ReadonlyMap<string, WalkEntry>;
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

/** Archive name of a relative path: what `tar -cf - -C / cpaas/minio` writes. */
export function memberName(prefix: string, rel: string, type: WalkEntry['type']): string {
  const name = rel === '' ? prefix : `${prefix}/${rel}`;
  return type === 'directory' ? `${name}/` : name;
}

interface WalkState {
  root: string;
  prefix: string;
  entries: Map<string, WalkEntry>;
  inodes: Map<string, string>;
  files: number;
  bytes: number;
  diskBytes: number;
  members: number;
  manifestBytes: number;
}

/**
 * lstat-based walk in GNU tar's own order (depth first, directory entries in
 * readdir order), so the first name of a hard-linked inode is the one tar
 * stores with data and the others become links to it.
 */
export async function walkSource(sourceDir: string): Promise<SourceWalk> {
  const root = path.resolve(sourceDir);
  const s: WalkState = { root, prefix: memberPrefix(root), entries: new Map(), inodes: new Map(), files: 0, bytes: 0, diskBytes: 0, members: 0, manifestBytes: 0 };
  await visit(s, '', await lstat(root));
  const { entries, files, bytes, diskBytes, manifestBytes } = s;
  return { entries, files, bytes, diskBytes, manifestBytes, expectedArchiveBytes: archiveBytes(s.members), linkTargets: new Set(s.inodes.values()) };
}

async function visit(s: WalkState, rel: string, st: Stats): Promise<void> {
  await record(s, rel, st);
  if (!st.isDirectory()) return;
  const names = await readNames(path.join(s.root, rel));
  // lstat a batch at a time: concurrent enough for the thread pool, bounded in memory.
  for (let i = 0; i < names.length; i += lstatBatch) {
    const batch = names.slice(i, i + lstatBatch).map((n) => (rel === '' ? n : `${rel}/${n}`));
    const stats = await Promise.all(batch.map((r) => lstat(path.join(s.root, r))));
    for (const [j, st] of stats.entries()) await visit(s, batch[j] ?? '', st);
  }
}

const lstatBatch = 128;

/**
 * Names in the directory's own order, as GNU tar's savedir reads them
 * (`--sort=none`); fs.readdir would sort them (libuv's scandir).
 */
async function readNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const d of await opendir(dir, { bufferSize: 256 })) names.push(d.name);
  return names;
}

function typeOf(st: Stats): WalkEntry['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  return st.isSocket() ? 'socket' : 'other';
}

async function record(s: WalkState, rel: string, st: Stats): Promise<void> {
  let type = typeOf(st);
  // tar skips sockets ("socket ignored"); they are kept for change detection only.
  const name = memberName(s.prefix, rel, type);
  let linkTarget: string | undefined;
  const inode = `${st.dev}:${st.ino}`;
  const first = st.nlink > 1 && type === 'file' ? s.inodes.get(inode) : undefined;
  if (first !== undefined) {
    type = 'link';
    linkTarget = first;
  } else {
    if (st.nlink > 1 && type === 'file') s.inodes.set(inode, name);
    s.diskBytes += st.blocks * 512;
    if (type === 'file') {
      s.files += 1;
      s.bytes += st.size;
    }
  }
  if (type === 'file' || type === 'link') s.manifestBytes += 68 + Buffer.byteLength(name);
  if (type === 'symlink') linkTarget = await readlink(path.join(s.root, rel));
  s.entries.set(rel, { type, size: type === 'file' ? st.size : 0, mtimeMs: st.mtimeMs, index: s.entries.size });
  if (type !== 'socket') s.members += memberBytes({ name, type, size: st.size, ...(linkTarget === undefined ? {} : { linkTarget }) });
}
