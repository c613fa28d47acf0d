import { chown, open, readFile, stat } from 'node:fs/promises';
import { errnoCode } from '../lib/errors.js';
import { writeFileAtomic } from '../lib/fs-atomic.js';

/** The marker that ends every line the agent writes in the hosts file. */
export const HOSTS_LINE_MARKER = '# node-ca';

const markedLine = /(?:^|[ \t])# node-ca[ \t]*$/;

/**
 * Drops the agent's lines (those ending with `# node-ca`) and keeps every
 * other byte exactly: comments, blank lines, order, CRLF, a missing final
 * newline. Pure.
 */
export function removeMarkedLines(text: string): { text: string; removed: string[] } {
  const kept: string[] = [];
  const removed: string[] = [];
  // Each piece is one line with its own terminator (the last may have none).
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    const body = line.replace(/\r?\n$/, '');
    if (markedLine.test(body)) removed.push(body);
    else kept.push(line);
  }
  return { text: kept.join(''), removed };
}

/**
 * Removes the agent's lines from a hosts file, for `node-ca cleanup`.
 * Returns the removed lines; a missing file has none. Written atomically,
 * or in place when the file is a bind mount (as `/etc/hosts` is in the pod:
 * a rename over a mount point fails with EBUSY), keeping mode and owner.
 */
export async function removeHostsLines(file: string): Promise<string[]> {
  let before: string;
  try {
    before = await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const { text, removed } = removeMarkedLines(before);
  if (removed.length > 0) await writeKeepingInode(file, text);
  return removed;
}

async function writeKeepingInode(file: string, text: string): Promise<void> {
  const st = await stat(file);
  try {
    await writeFileAtomic(file, text, { mode: st.mode & 0o7777 });
  } catch (err) {
    if (errnoCode(err) !== 'EBUSY') throw err;
    await writeInPlace(file, text);
    return;
  }
  await chown(file, st.uid, st.gid);
}

/** Not atomic, but the only way to change a bind-mounted file; the file stays the same inode. */
async function writeInPlace(file: string, text: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const data = Buffer.from(text, 'utf8');
    await handle.write(data, 0, data.length, 0);
    await handle.truncate(data.length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
