import { open, readFile, unlink } from 'node:fs/promises';
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
      await unlink(file).catch((err: unknown) => {
        if (errnoCode(err) !== 'ENOENT') throw err;
      });
      const handle = await open(file, 'wx', 0o600).catch((err: unknown) => {
        if (errnoCode(err) === 'EEXIST') return undefined;
        throw err;
      });
      if (handle === undefined) return (await holder()) ?? -1;
      await handle.writeFile(String(process.pid));
      await handle.close();
      return undefined;
    },
    async release(): Promise<void> {
      await unlink(file).catch(() => undefined);
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}
