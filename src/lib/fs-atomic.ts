import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * The one place that writes files atomically: temp file in the same
 * directory, write, fsync, rename over the target, fsync the directory.
 * A reader sees the old bytes or the new bytes, never a mix, even if the
 * process is killed at any instant (the directory fsync makes the rename
 * itself durable across a power loss).
 *
 * The temp name starts with `.` and ends with a random suffix, so it never
 * matches the globs containerd loads from a hosts directory (`*.crt`,
 * `*.cert`, `*.key`, `hosts.toml`) nor Docker's certs.d globs.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: { mode?: number; uid?: number; gid?: number } = {},
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `${tempPrefix}${path.basename(file)}.${randomBytes(6).toString('hex')}`);
  const handle = await open(tmp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    // Exact mode (the umask applied to open's) and owner, before the file becomes visible.
    if (options.mode !== undefined) await handle.chmod(options.mode);
    if (options.uid !== undefined && options.gid !== undefined) await handle.chown(options.uid, options.gid);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

/** Prefix of every temp file this module creates; a leftover one is garbage. */
export const tempPrefix = '.node-ca-tmp.';

/** Makes a directory entry (create, rename, unlink) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
