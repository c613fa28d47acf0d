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

/** A sortable, unique id: UTC time then random hex. */
export function newJobId(now: Date, random: string): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${random}`;
}

/** `<nodeIP>-<source>.tar`, the node name when no IP is known. */
export function archiveName(node: { nodeName: string; nodeIP?: string | undefined }, source: string): string {
  return `${node.nodeIP ?? node.nodeName}-${source}.tar`;
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
export function interruptedJob(job: BackupJob, now: Date): BackupJob {
  return isFinished(job) ? job : failJob(job, 'INTERRUPTED', 'the agent stopped while this backup was running', now);
}

/** Newest first, at most `cap` jobs (archives themselves are never deleted). */
export function capHistory(jobs: readonly BackupJob[], cap: number): BackupJob[] {
  return [...jobs].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).slice(0, cap);
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
