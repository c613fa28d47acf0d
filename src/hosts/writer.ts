import { open, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, unlessMissing } from '../lib/errors.js';
import { writeFileAtomic } from '../lib/fs-atomic.js';

export type WriteMode = 'in-place' | 'rename';

/**
 * Is `file` itself a mount point (a single-file hostPath or bind mount)? A
 * rename over it fails with EBUSY, so it must be rewritten in place. A
 * different st_dev than its directory says so; a bind mount from the same
 * filesystem keeps the st_dev, so /proc/self/mountinfo is asked too.
 */
export async function isMountPoint(
  file: string,
  mountinfo = '/proc/self/mountinfo',
): Promise<boolean> {
  const real = await realpath(file);
  const [f, d] = await Promise.all([stat(real), stat(path.dirname(real))]);
  if (f.dev !== d.dev) return true;
  const table = await readFile(mountinfo, 'utf8').catch(() => '');
  return table.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === real);
}

// mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The hosts file is handled as latin1 text: one character per byte, so bytes
 * that are not UTF-8 (a comment in another encoding) come back exactly.
 * Everything the agent itself writes is ASCII.
 */
const encoding = 'latin1';

/**
 * Writes the hosts file, keeping its mode and owner; a symlink is followed
 * and its target written. A mount point is
 * rewritten in place (one write from offset 0, truncate, fsync): a reader may
 * see the file mid-write for an instant, the price of a bind mount. Anything
 * else gets temp file + rename (a reader sees old or new bytes); should the
 * rename still hit EBUSY, the in-place write follows.
 */
export async function writeHostsFile(file: string, content: string): Promise<WriteMode> {
  const data = Buffer.from(content, encoding);
  const target = await unlessMissing(realpath(file));
  if (target === undefined) {
    await writeFileAtomic(file, data, { mode: 0o644 });
    return 'rename';
  }
  if (await isMountPoint(target)) {
    await writeInPlace(target, data);
    return 'in-place';
  }
  const st = await stat(target);
  try {
    await writeFileAtomic(target, data, { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid });
    return 'rename';
  } catch (err) {
    if (errnoCode(err) !== 'EBUSY') throw err;
    await writeInPlace(target, data);
    return 'in-place';
  }
}

async function writeInPlace(file: string, data: Buffer): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(data, 0, data.length, 0);
    await handle.truncate(data.length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The hosts file's text; '' when it does not exist yet. */
export async function readHostsFile(file: string): Promise<string> {
  return (await unlessMissing(readFile(file, encoding))) ?? '';
}
