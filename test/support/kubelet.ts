import { mkdir, readdir, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes a ConfigMap volume exactly as the kubelet's AtomicWriter does
 * (pkg/volume/util/atomic_writer.go): a new timestamped directory
 * `..<timestamp>` with the payload, a `..data_tmp` symlink to it renamed over
 * `..data`, top-level `key -> ..data/key` symlinks for new keys, removal of
 * top-level links for keys that left, then removal of the old directory.
 */
export function createProjectedConfigMap(dir: string) {
  let seq = 0;
  return {
    dir,
    /** Resolves to `performance.now()` taken just before the `..data` swap. */
    async write(entries: Readonly<Record<string, string>>): Promise<number> {
      await mkdir(dir, { recursive: true });
      const oldTarget = await readlink(path.join(dir, '..data')).catch(() => undefined);
      seq += 1;
      const stamp = `..${new Date().toISOString().replace(/[-:.TZ]/g, '_')}${seq}`;
      const tsDir = path.join(dir, stamp);
      await mkdir(tsDir);
      for (const [key, value] of Object.entries(entries)) await writeFile(path.join(tsDir, key), value);
      const tmpLink = path.join(dir, '..data_tmp');
      await symlink(stamp, tmpLink);
      const swapAt = performance.now();
      await rename(tmpLink, path.join(dir, '..data'));
      await syncKeyLinks(dir, Object.keys(entries));
      if (oldTarget !== undefined) await rm(path.join(dir, oldTarget), { recursive: true, force: true });
      return swapAt;
    },
  };
}

async function syncKeyLinks(dir: string, keys: readonly string[]): Promise<void> {
  const present = (await readdir(dir)).filter((n) => !n.startsWith('..'));
  for (const name of present) if (!keys.includes(name)) await unlink(path.join(dir, name));
  for (const key of keys) if (!present.includes(key)) await symlink(path.join('..data', key), path.join(dir, key));
}
