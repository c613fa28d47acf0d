import { randomBytes } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { errnoCode, errorMessage, NodeCaError } from '../lib/errors.js';
import { exposedGc } from '../lib/heap.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { archiveName, BackupFailure, capHistory, failJob, finishJob, interruptedJob, isFinished, newJobId, withPhase, type BackupJob } from './job.js';
import { checkPlacement, checkSource, checkSpace } from './preflight.js';
import { createBackupLock } from './lock.js';
import { createJobRecords, createJobStore, historyCap } from './store.js';
import { walkSource, type SourceWalk } from './walk.js';

export interface BackupServiceDeps {
  readonly config: Pick<Config, 'nodeName' | 'nodeIP' | 'backup'>;
  readonly logger: Logger;
  readonly metrics?: Pick<Metrics, 'backupBytes' | 'backupsTotal' | 'backupDuration'>;
  readonly now?: () => Date;
  /** Told when a job ends: the agent's heap trimmer hands the job's garbage back to the OS once quiet. */
  readonly onJobEnd?: () => void;
}

export interface StartRequest {
  readonly source?: string;
  readonly allowChanges?: boolean;
}

interface Running {
  /** Made once this process holds the backup lock (see newJobId). */
  id: string | undefined;
  readonly abort: AbortController;
  done: Promise<BackupJob>;
}

/**
 * Backup jobs on this node: one at a time, persisted in the state directory,
 * preflight (source, free space) answered before anything is written.
 */
export async function createBackupService(deps: BackupServiceDeps) {
  const { config, logger } = deps;
  const now = deps.now ?? (() => new Date());
  const { store, lock, records } = await openJobRecords(config.backup.stateDir, logger, now());
  let running: Running | undefined;
  void preloadPipeline(Object.values(config.backup.sources));
  const { merged, persist, show, update } = records;

  async function start(request: StartRequest): Promise<BackupJob> {
    if (running !== undefined) throw busy(running.id);
    const source = request.source ?? 'minio';
    const sourceDir = config.backup.sources[source];
    if (sourceDir === undefined) throw new NodeCaError('UNKNOWN_SOURCE', `unknown backup source "${source}"; known: ${Object.keys(config.backup.sources).join(', ')}`);
    const slot: Running = { id: undefined, abort: new AbortController(), done: Promise.resolve(undefined as never) };
    running = slot;
    try {
      await acquireLock();
      // Made under the lock from the newest record (ours or another process's): ids sort by creation.
      slot.id = newJobId(now(), (await merged())[0]?.id, randomBytes(4).toString('hex'));
      const { job, before } = await prepare({ id: slot.id, source, sourceDir: path.resolve(sourceDir), allowChanges: request.allowChanges ?? false });
      slot.done = execute(slot, job, before);
      return job;
    } catch (err) {
      running = undefined;
      if (!(err instanceof NodeCaError && err.code === 'BACKUP_RUNNING')) await lock.release();
      throw err;
    }
  }

  async function acquireLock(): Promise<void> {
    await mkdir(config.backup.stateDir, { recursive: true, mode: 0o700 });
    let other = await lock.acquire();
    // Another process (a CLI backup) saves its job's final record, then releases the lock:
    // while every record on disk is final, the holder is ending (or just starting), so wait a moment.
    for (const until = Date.now() + lockGraceMs; other !== undefined && Date.now() < until; other = await lock.acquire()) {
      if ((await store.load()).some((j) => !isFinished(j))) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (other === undefined) return reapAbandoned();
    const job = (await store.load()).find((j) => !isFinished(j));
    throw new NodeCaError('BACKUP_RUNNING', `a backup is running on this node (process ${other})`, { details: { jobId: job?.id, pid: other } });
  }

  /**
   * With the lock held: a record on disk that is not final and not ours was left by a
   * process that is gone (a live one would hold the lock), e.g. a `node-ca backup` killed
   * with SIGKILL while this agent ran. It is recorded INTERRUPTED and its partials
   * removed, as an agent start does for its own.
   */
  async function reapAbandoned(): Promise<void> {
    const abandoned = (await store.load()).filter((j) => !isFinished(j) && records.own(j.id) === undefined);
    const message = 'the process running this backup ended before it did (killed or crashed)';
    for (const job of await recover(abandoned, logger, now(), message)) await persist(job);
  }

  /**
   * DELETE of a job this process does not run. Another live process (a `node-ca backup`)
   * runs it: 409, only that process can cancel it. Nobody does: it was abandoned, and is
   * recorded INTERRUPTED here (under the lock, so no start of ours races it).
   */
  async function cancelForeign(job: BackupJob): Promise<BackupJob | undefined> {
    const holder = await lock.holder();
    if (holder !== undefined) throw notCancelable(job.id, holder);
    if (running !== undefined) return job; // our own start reaps it under the lock
    const slot: Running = { id: undefined, abort: new AbortController(), done: Promise.resolve(undefined as never) };
    running = slot;
    try {
      const other = await lock.acquire();
      if (other !== undefined) throw notCancelable(job.id, other);
      try {
        await reapAbandoned();
      } finally {
        await lock.release();
      }
    } finally {
      running = undefined;
    }
    return (await merged()).find((j) => j.id === job.id);
  }

  async function prepare(req: { id: string; source: string; sourceDir: string; allowChanges: boolean }) {
    await checkSource(req.sourceDir);
    await mkdir(config.backup.dir, { recursive: true });
    // The directories may have been created or re-linked since the configuration was checked.
    checkPlacement(config.backup, req.source);
    const before = await walkSource(req.sourceDir).catch((err: unknown) => {
      // walk-scan's refusal of a name it cannot handle: the node's data, not the request, is the problem.
      if (errnoCode(err) === 'EILSEQ') throw new NodeCaError('SOURCE_UNSUPPORTED_NAME', errorMessage(err));
      throw err;
    });
    await checkSpace(config.backup.dir, before.expectedArchiveBytes + before.manifestBytes, config.backup.minFreePercent);
    const job: BackupJob = {
      ...req,
      node: config.nodeName,
      archivePath: path.join(path.resolve(config.backup.dir), archiveName(config, req.source)),
      phase: 'Running',
      startTime: now().toISOString(),
      progress: { bytesDone: 0, bytesTotal: before.expectedArchiveBytes, filesDone: 0, filesTotal: before.files },
    };
    await update(job);
    logger.info({ job: job.id, source: job.sourceDir, archive: job.archivePath, expectedBytes: before.expectedArchiveBytes }, 'backup started');
    return { job, before };
  }

  async function execute(slot: Running, base: BackupJob, before: SourceWalk): Promise<BackupJob> {
    // run() records every failure; this only keeps the node from staying busy should that fail too.
    const final = await run(base, before, slot.abort.signal).catch((err: unknown) => failJob(base, 'INTERNAL', `internal error: ${errorMessage(err).slice(0, 200)}`, now()));
    await settle(slot, final);
    deps.metrics?.backupsTotal.inc({ phase: final.phase });
    deps.metrics?.backupDuration.observe((Date.parse(final.completionTime ?? '') - Date.parse(final.startTime)) / 1000);
    deps.onJobEnd?.();
    logger.info({ job: final.id, phase: final.phase, error: final.error, archive: final.archive, verification: final.verification && { ...final.verification, changedDuringBackup: final.verification.changedDuringBackup.length } }, 'backup finished');
    return final;
  }

  /**
   * A job is shown final only once the node is free for the next one: its final record
   * is saved, the lock released, and only then is it final in memory (what GET answers).
   * A caller that polls until the job ends and starts another never meets this one.
   */
  async function settle(slot: Running, final: BackupJob): Promise<void> {
    await persist(final).catch((err: unknown) => {
      logger.error({ err, job: final.id }, 'cannot save the finished backup job');
    });
    await lock.release();
    if (running === slot) running = undefined;
    show(final);
  }

  /** The pipeline, and the job it ends with (the failure recorded when it throws). */
  async function run(base: BackupJob, before: SourceWalk, signal: AbortSignal): Promise<BackupJob> {
    // The listed job object itself: progress changes in place, seen by GET at once.
    let current: BackupJob = base;
    try {
      const { runBackupPipeline } = await loadPipeline();
      const result = await runBackupPipeline({
        sourceDir: base.sourceDir,
        archivePath: base.archivePath,
        before,
        allowChanges: base.allowChanges,
        signal,
        // Progress changes in place (no copy, no write) on every member; phases are persisted.
        onProgress: (p) => {
          Object.assign(current.progress, p);
          records.notify(current);
        },
        onVerifying: () => {
          current = withPhase(current, 'Verifying');
          return update(current);
        },
        // The first walk's garbage (a Stats object and strings per entry, much of it promoted)
        // goes as the stream starts, not at whatever point of it V8 reaches its old-space
        // limit; and only once tar is started, which has the other core meanwhile.
        onTarStarted: () => {
          exposedGc()?.({ type: 'major', execution: 'sync' });
        },
      });
      deps.metrics?.backupBytes.inc(result.archive.bytes);
      return finishJob({ ...current, ...result }, { phase: 'Succeeded', now: now() });
    } catch (err) {
      return failed(current, err);
    }
  }

  async function failed(job: BackupJob, err: unknown): Promise<BackupJob> {
    const { removePartials } = await loadPipeline();
    await removePartials(job.archivePath).catch((e: unknown) => {
      logger.error({ err: e }, 'cannot remove partial archive');
    });
    if (!(err instanceof BackupFailure)) {
      logger.error({ err, job: job.id }, 'backup failed unexpectedly');
      return failJob(job, 'INTERNAL', `internal error: ${errorMessage(err).slice(0, 200)}`, now());
    }
    const measured = { ...(err.verification ? { verification: err.verification } : {}), ...(err.archive ? { archive: err.archive } : {}) };
    return failJob({ ...job, ...measured }, err.code, err.message, now());
  }

  return {
    start,
    list: merged,
    get: async (id: string): Promise<BackupJob | undefined> => (await merged()).find((j) => j.id === id),
    /** The job's final state (for the in-process CLI). */
    wait: async (id: string): Promise<BackupJob | undefined> => (running?.id === id ? running.done : records.own(id)),
    /** Cancels a running job and waits for it to end; a finished job is returned as it is. */
    async cancel(id: string): Promise<BackupJob | undefined> {
      if (running?.id === id) {
        running.abort.abort();
        return running.done;
      }
      const job = (await merged()).find((j) => j.id === id);
      return job === undefined || isFinished(job) ? job : cancelForeign(job);
    },
    onUpdate: records.onUpdate,
    /** Shutdown: a running job is canceled cleanly (tar ended, partial removed). */
    async stop(): Promise<void> {
      const r = running;
      if (r === undefined) return;
      r.abort.abort();
      await r.done;
    },
  };
}

/**
 * The state directory's job records and lock, as a process starts: jobs left
 * unfinished by an earlier process are recorded INTERRUPTED, unless another live
 * process (the agent, or a CLI backup) holds the lock: those are not ours to interrupt.
 */
async function openJobRecords(stateDir: string, logger: Logger, at: Date) {
  const store = createJobStore(stateDir);
  const lock = createBackupLock(stateDir);
  const loaded = await store.load();
  const foreignRun = (await lock.holder()) !== undefined;
  const records = createJobRecords(store, foreignRun ? loaded : capHistory(await recover(loaded, logger, at), historyCap));
  if (!foreignRun && loaded.some((j) => !isFinished(j))) await records.persist();
  return { store, lock, records };
}

/**
 * Jobs left unfinished by a process that is gone: each one's partials removed, and
 * it recorded INTERRUPTED. Finished jobs come back as they are.
 */
async function recover(jobs: readonly BackupJob[], logger: Logger, at: Date, message?: string): Promise<BackupJob[]> {
  const out: BackupJob[] = [];
  for (const job of jobs) {
    if (!isFinished(job)) {
      await (await loadPipeline()).removePartials(job.archivePath);
      logger.warn({ job: job.id }, 'backup interrupted: the process running it is gone; partial archive removed');
    }
    out.push(interruptedJob(job, at, message));
  }
  return out;
}

/** How long a start waits for another process whose job is already final on record to release the lock. */
const lockGraceMs = 1000;

function notCancelable(id: string, pid: number): NodeCaError {
  return new NodeCaError(
    'BACKUP_NOT_CANCELABLE',
    `backup ${id} is run by another process on this node (pid ${pid}, a node-ca backup command); only that process can cancel it: Ctrl-C or SIGTERM there cancels it cleanly`,
    { details: { jobId: id, pid } },
  );
}

function busy(id: string | undefined): NodeCaError {
  return new NodeCaError('BACKUP_RUNNING', id === undefined ? 'a backup is starting on this node' : `backup ${id} is running on this node`, { details: { jobId: id } });
}

/**
 * The tar pipeline (execa, the tar parser, the verifier) is loaded at the first
 * backup, not at start: the agent is resident on every node and most never
 * run a backup, and those modules are about 3 MiB of its idle RSS.
 */
function loadPipeline(): Promise<typeof import('./pipeline.js')> {
  return import('./pipeline.js');
}

/**
 * Except on a node that holds a backup source (a control-plane node with
 * MinIO): there it is loaded at start, and a backup starts tar without first
 * spending about 70 ms of the main thread on loading it.
 */
async function preloadPipeline(sourceDirs: readonly string[]): Promise<void> {
  for (const dir of sourceDirs) {
    const st = await stat(dir).catch(() => undefined);
    if (st?.isDirectory() === true) {
      // A failure to load is reported where a backup needs the module.
      await loadPipeline().catch(() => undefined);
      return;
    }
  }
}

export type BackupService = Awaited<ReturnType<typeof createBackupService>>;
