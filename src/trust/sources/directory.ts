import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { errnoCode } from '../../lib/errors.js';
import { SourceUnavailableError, type TrustSnapshot, type TrustSource } from './source.js';

/**
 * The ConfigMap as the kubelet projects it into a pod: `..data` is a symlink
 * to a timestamped directory holding the keys, and an update writes a new
 * timestamped directory, then renames `..data_tmp` over `..data`. So:
 *
 * - we watch the directory itself (depth 0), not the key symlinks: their
 *   targets change underneath them and a watch on them sees nothing;
 * - we read the keys from the one timestamped directory `..data` points to
 *   at that moment, so a snapshot never mixes two versions;
 * - entries whose names start with `..` are the kubelet's, never keys.
 *
 * A plain directory of files (no `..data`) is read as is, for hand-made
 * setups and the demo.
 */
export function createDirectorySource(dir: string, options: { debounceMs?: number } = {}): TrustSource {
  const debounceMs = options.debounceMs ?? 5;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;

  return {
    description: `directory ${dir}`,
    async start(onChange) {
      const fire = () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = setTimeout(onChange, debounceMs);
      };
      // atomic:false — chokidar's "atomic" mode holds unlink events back
      // 100 ms to merge editor save patterns; the kubelet's rename needs no help.
      watcher = watch(dir, { depth: 0, followSymlinks: false, ignoreInitial: true, atomic: false });
      watcher.on('all', fire);
      watcher.on('error', fire);
      await new Promise<void>((resolve) => watcher?.once('ready', resolve));
    },
    read: () => readSnapshot(dir),
    async stop() {
      if (timer !== undefined) clearTimeout(timer);
      await watcher?.close();
    },
  };
}

async function readSnapshot(dir: string, attempt = 0): Promise<TrustSnapshot> {
  let dataDir: string;
  let revision: string;
  try {
    const target = await readlink(path.join(dir, '..data'));
    dataDir = path.resolve(dir, target);
    revision = path.basename(target);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== 'ENOENT' && code !== 'EINVAL') throw unavailable(dir, err);
    dataDir = dir;
    revision = 'plain-directory';
  }
  try {
    return { entries: await readKeys(dataDir), revision };
  } catch (err) {
    // The kubelet removes the old timestamped directory right after the swap;
    // reading it then fails with ENOENT, and reading again sees the new one.
    if (errnoCode(err) === 'ENOENT' && attempt < 3) return readSnapshot(dir, attempt + 1);
    throw unavailable(dir, err);
  }
}

async function readKeys(dataDir: string): Promise<Map<string, string>> {
  const entries = await readdir(dataDir, { withFileTypes: true });
  const keys = entries.filter((e) => !e.name.startsWith('..') && (e.isFile() || e.isSymbolicLink()));
  const values = await Promise.all(keys.map((e) => readKeyValue(path.join(dataDir, e.name))));
  const out = new Map<string, string>();
  keys.forEach((e, i) => {
    const v = values[i];
    if (v !== undefined) out.set(e.name, v);
  });
  return out;
}

async function readKeyValue(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    // A symlink to a directory is not a key.
    if (errnoCode(err) === 'EISDIR') return undefined;
    throw err;
  }
}

function unavailable(dir: string, err: unknown): SourceUnavailableError {
  return new SourceUnavailableError(`cannot read CA source directory ${dir}: ${String(err)}`, { cause: err });
}
