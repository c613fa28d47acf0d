import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../lib/errors.js';

/**
 * One backup per node across processes: the agent and an in-process
 * `node-ca backup` share the state directory. The lock file holds the
 * owner's pid; a lock whose pid is gone is stale (the owner was killed).
 * Pids are compared within one pid namespace (the agent's container).
 */
export function createBackupLock(stateDir: string) {
  const file = path.join(stateDir, 'backup.lock');
  const holder = async (): Promise<number | undefined> => {
    const pid = Number(await readFile(file, 'utf8').catch(() => ''));
    return Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid) ? pid : undefined;
  };
  return {
    /** The pid of another live process holding the lock, if any. */
    holder,
    async acquire(): Promise<number | undefined> {
      const other = await holder();
      if (other !== undefined) return other;
      // The pid goes into a private file first and is linked into place: link(2) fails
      // with EEXIST like O_EXCL, and the lock appears with its pid already in it, so a
      // racing process never reads an empty lock, takes it for stale and removes it.
      const tmp = `${file}.${String(process.pid)}.tmp`;
      await writeFile(tmp, String(process.pid), { mode: 0o600 });
      try {
        for (let attempt = 0; attempt < 2; attempt += 1) {
          if (await linked(tmp, file)) return undefined;
          const live = await holder();
          if (live !== undefined) return live;
          // Stale: its owner is gone (killed with the agent). Remove it and try once more.
          await unlink(file).catch((err: unknown) => {
            if (errnoCode(err) !== 'ENOENT') throw err;
          });
        }
        return (await holder()) ?? -1;
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
    },
    async release(): Promise<void> {
      await unlink(file).catch(() => undefined);
    },
  };
}

async function linked(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}
