import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../lib/errors.js';
import { writeFileAtomic } from '../lib/fs-atomic.js';
import { capHistory, type BackupJob } from './job.js';

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

/**
 * One process's view of the job records: its own jobs in memory (what the API
 * answers at once; progress changes in place), over the store, where another
 * process (a CLI backup) may have added its own.
 */
export function createJobRecords(store: JobStore, initial: BackupJob[]) {
  let jobs = initial;
  const listeners = new Set<(job: BackupJob) => void>();
  /** The records on disk with ours on top, newest first. */
  const merged = async (): Promise<BackupJob[]> => {
    const mine = new Set(jobs.map((j) => j.id));
    const disk = (await store.load()).filter((j) => !mine.has(j.id));
    return capHistory([...jobs, ...disk], historyCap);
  };
  // Store writes run one after another, each built from the records as they are when it
  // runs: an earlier write (an unawaited phase change) never lands over a later one.
  let saving: Promise<void> = Promise.resolve();
  /** Saves the records; `pending` is saved in place of its version in memory (shown later). */
  const persist = (pending?: BackupJob): Promise<void> => {
    const write = saving.then(async () => {
      const records = await merged();
      await store.save(pending === undefined ? records : withJob(records, pending));
    });
    saving = write.catch(() => undefined);
    return write;
  };
  const notify = (job: BackupJob) => {
    for (const l of listeners) l(job);
  };
  /** The job as the API and the listeners see it. */
  const show = (job: BackupJob) => {
    jobs = withJob(jobs, job);
    notify(job);
  };
  return {
    merged,
    persist,
    show,
    notify,
    update: async (job: BackupJob): Promise<void> => {
      show(job);
      await persist();
    },
    own: (id: string): BackupJob | undefined => jobs.find((j) => j.id === id),
    onUpdate: (listener: (job: BackupJob) => void): (() => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** `records` with `job` in place of its older version, newest first. */
function withJob(records: readonly BackupJob[], job: BackupJob): BackupJob[] {
  return capHistory([job, ...records.filter((j) => j.id !== job.id)], historyCap);
}
