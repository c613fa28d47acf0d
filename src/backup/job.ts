/**
 * The backup job model and its state machine (pure). The service moves a job
 * Pending → Running → Verifying → Succeeded | Failed | Canceled; a job found
 * Running after a restart becomes Failed/INTERRUPTED.
 */

export type BackupPhase = 'Pending' | 'Running' | 'Verifying' | 'Succeeded' | 'Failed' | 'Canceled';

/** Why a job did not succeed (the job's `error.code`). */
export type BackupFailureCode =
  | 'SOURCE_MISSING'
  | 'NO_SPACE'
  | 'TAR_FAILED'
  | 'SOURCE_CHANGED'
  | 'INTERRUPTED'
  | 'CANCELED'
  | 'VERIFY_FAILED'
  | 'INTERNAL';

export interface BackupProgress {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export interface BackupVerification {
  sourceFiles: number;
  sourceBytes: number;
  sourceDiskBytes: number;
  archiveFiles: number;
  archiveBytes: number;
  expectedArchiveBytes: number;
  matched: boolean;
  changedDuringBackup: string[];
}

export interface BackupJob {
  id: string;
  node: string;
  source: string;
  sourceDir: string;
  archivePath: string;
  allowChanges: boolean;
  phase: BackupPhase;
  startTime: string;
  completionTime?: string;
  progress: BackupProgress;
  archive?: { bytes: number; sha256: string };
  verification?: BackupVerification;
  error?: { code: BackupFailureCode; message: string };
}

const finalPhases: ReadonlySet<BackupPhase> = new Set(['Succeeded', 'Failed', 'Canceled']);

export function isFinished(job: BackupJob): boolean {
  return finalPhases.has(job.phase);
}

/** A job id: its UTC creation time to the millisecond, `-`, 8 random hex digits (also read: the older form without milliseconds). */
const jobIdPattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})?Z-[0-9a-f]{8}$/;

/**
 * The id of a new job, ordered after `newest` (the newest id on record) as a string:
 * its time is the later of `now` and 1 ms after `newest`'s. So ids sort by creation
 * even when two are made in the same millisecond, after a restart (the newest comes
 * from the state directory) or with a clock set back; the random part only keeps
 * ids apart should two processes ever make one at once.
 */
export function newJobId(now: Date, newest: string | undefined, random: string): string {
  const after = newest === undefined ? undefined : jobIdTime(newest);
  const time = after === undefined ? now.getTime() : Math.max(now.getTime(), after + 1);
  return `${new Date(time).toISOString().replace(/[-:.]/g, '')}-${random}`;
}

/**
 * The time in a job id (ms since the epoch). An id of the earlier
 * second-precision form (`YYYYMMDDTHHMMSSZ-hex`) counts as the last millisecond
 * of its second, so a new id made in that second still sorts after it.
 */
export function jobIdTime(id: string): number | undefined {
  const m = jobIdPattern.exec(id);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(year, month - 1, day, hour, minute, second, m[7] === undefined ? 999 : Number(m[7]));
}

/** Newer job first: ids sort by creation (see newJobId). */
export function compareJobsNewestFirst(a: BackupJob, b: BackupJob): number {
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** `<nodeIP>-<source>.tar`, the node name when no IP is known; never a path (config validates nodeIP, this makes sure). */
export function archiveName(node: { nodeName: string; nodeIP?: string | undefined }, source: string): string {
  const name = `${node.nodeIP ?? node.nodeName}-${source}.tar`;
  if (/[/\0]/.test(name)) throw new Error(`the archive name ${JSON.stringify(name)} (node IP or name, and source) would be a path`);
  return name;
}

export function withPhase(job: BackupJob, phase: BackupPhase): BackupJob {
  return { ...job, phase };
}

export function finishJob(
  job: BackupJob,
  end: { phase: 'Succeeded' | 'Failed' | 'Canceled'; now: Date; error?: BackupJob['error'] },
): BackupJob {
  const rest = { ...job };
  delete rest.error;
  return { ...rest, phase: end.phase, completionTime: end.now.toISOString(), ...(end.error ? { error: end.error } : {}) };
}

export function failJob(job: BackupJob, code: BackupFailureCode, message: string, now: Date): BackupJob {
  const phase = code === 'CANCELED' ? 'Canceled' : 'Failed';
  return finishJob(job, { phase, now, error: { code, message } });
}

/** At start: a job left unfinished by a dead agent is Failed/INTERRUPTED. */
export function interruptedJob(job: BackupJob, now: Date, message = 'the agent stopped while this backup was running'): BackupJob {
  return isFinished(job) ? job : failJob(job, 'INTERRUPTED', message, now);
}

/** Newest first, at most `cap` jobs (archives themselves are never deleted). */
export function capHistory(jobs: readonly BackupJob[], cap: number): BackupJob[] {
  return [...jobs].sort(compareJobsNewestFirst).slice(0, cap);
}

/** A job-ending failure raised inside the pipeline; the service turns it into the job's error. */
export class BackupFailure extends Error {
  override readonly name = 'BackupFailure';
  constructor(
    readonly code: BackupFailureCode,
    message: string,
    options?: { cause?: unknown; verification?: BackupVerification; archive?: BackupJob['archive'] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.verification = options?.verification;
    this.archive = options?.archive;
  }
  /** What was measured before the verdict, kept in the failed job. */
  readonly verification: BackupVerification | undefined;
  readonly archive: BackupJob['archive'];
}
