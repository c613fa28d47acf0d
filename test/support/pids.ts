import { readFile } from 'node:fs/promises';

/**
 * Pids that tests read from files written by fixture processes. A pid file
 * caught between its creation and its write reads as '', and Number('') is 0:
 * kill(0, SIGKILL) signals the test runner's whole process group (a CI run
 * once died with exit 137 that way). So a pid is a positive integer above 1
 * or nothing, and the kill helpers refuse anything else.
 */
export function parsePid(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^[0-9]+$/.test(trimmed)) return undefined;
  const pid = Number(trimmed);
  return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
}

/** The pid in `file`, or undefined while the file is missing, empty or partly written. */
export async function readPid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parsePid(text);
}

function checked(pid: number): number {
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new Error(`refusing to signal pid ${String(pid)}: not one process`);
  return pid;
}

/** Whether the process exists (signal 0). Throws for 0, 1, negative and non-integer pids. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(checked(pid), 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** SIGKILLs one process if it still exists. Throws for 0, 1, negative and non-integer pids. */
export function killPid(pid: number): void {
  try {
    process.kill(checked(pid), 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
