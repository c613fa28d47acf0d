import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../lib/errors.js';
import { writeFileAtomic } from '../lib/fs-atomic.js';
import type { BackupJob } from './job.js';

/** Jobs kept in the state directory; older records go (their archives stay on disk). */
export const historyCap = 50;

/** The job records, one JSON file in `backup.stateDir`, written atomically. */
export function createJobStore(stateDir: string) {
  const file = path.join(stateDir, 'backup-jobs.json');
  return {
    file,
    async load(): Promise<BackupJob[]> {
      try {
        const doc = JSON.parse(await readFile(file, 'utf8')) as { jobs?: BackupJob[] };
        return Array.isArray(doc.jobs) ? doc.jobs : [];
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return [];
        throw err;
      }
    },
    async save(jobs: readonly BackupJob[]): Promise<void> {
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, `${JSON.stringify({ jobs }, null, 2)}\n`, { mode: 0o600 });
    },
  };
}

export type JobStore = ReturnType<typeof createJobStore>;
