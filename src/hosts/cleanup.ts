import { managedLines, mergeHostsFile } from './hosts-file.js';
import { readHostsFile, writeHostsFile } from './writer.js';

/**
 * Drops the agent's lines (those ending with `# node-ca`) and keeps every
 * other byte, as the hosts manager does for a Service that is gone: with no
 * Service configured, the merge removes every node-ca line. Pure.
 */
export function removeMarkedLines(text: string): { text: string; removed: string[] } {
  return { text: mergeHostsFile(text, []), removed: managedLines(text) };
}

/**
 * Removes the agent's lines from a hosts file, for `node-ca cleanup`, with
 * the hosts manager's writer (in place for a bind mount, else atomic; mode
 * and owner kept). Returns the removed lines; a missing file has none.
 */
export async function removeHostsLines(file: string): Promise<string[]> {
  const { text, removed } = removeMarkedLines(await readHostsFile(file));
  if (removed.length > 0) await writeHostsFile(file, text);
  return removed;
}
