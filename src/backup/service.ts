import { randomBytes } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { errorMessage, NodeCaError } from '../lib/errors.js';
import { exposedGc } from '../lib/heap.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { archiveName, BackupFailure, capHistory, failJob, finishJob, interruptedJob, isFinished, newJobId, withPhase, type BackupJob } from './job.js';
import { checkSource, checkSpace } from './preflight.js';
import { createBackupLock } from './lock.js';
import { createJobStore, historyCap } from './store.js';
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
  readonly id: string;
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
  const store = createJobStore(config.backup.stateDir);
  const lock = createBackupLock(config.backup.stateDir);
  const loaded = await store.load();
  // A job another live process runs (the agent, or a CLI backup) is not ours to interrupt.
  const foreignRun = (await lock.holder()) !== undefined;
  let jobs = foreignRun ? loaded : capHistory(await recover(loaded), historyCap);
  if (!foreignRun && loaded.some((j) => !isFinished(j))) await store.save(jobs);
  let running: Running | undefined;
  const listeners = new Set<(job: BackupJob) => void>();
  void preloadPipeline(Object.values(config.backup.sources));

  /** The records on disk (another process may have added one) with ours on top. */
  const merged = async (): Promise<BackupJob[]> => {
    const mine = new Set(jobs.map((j) => j.id));
    const disk = (await store.load()).filter((j) => !mine.has(j.id));
    return capHistory([...jobs, ...disk], historyCap);
  };
  const update = async (job: BackupJob) => {
    jobs = capHistory([job, ...jobs.filter((j) => j.id !== job.id)], historyCap);
    for (const l of listeners) l(job);
    await store.save(await merged());
  };

  async function recover(loaded: BackupJob[]): Promise<BackupJob[]> {
    const out: BackupJob[] = [];
    for (const job of loaded) {
      if (!isFinished(job)) {
        await (await loadPipeline()).removePartials(job.archivePath);
        logger.warn({ job: job.id }, 'backup interrupted by an agent restart; partial archive removed');
      }
      out.push(interruptedJob(job, now()));
    }
    return out;
  }

  async function start(request: StartRequest): Promise<BackupJob> {
    if (running !== undefined)
      throw new NodeCaError('BACKUP_RUNNING', `backup ${running.id} is running on this node`, { details: { jobId: running.id } });
    const source = request.source ?? 'minio';
    const sourceDir = config.backup.sources[source];
    if (sourceDir === undefined) throw new NodeCaError('UNKNOWN_SOURCE', `unknown backup source "${source}"; known: ${Object.keys(config.backup.sources).join(', ')}`);
    const id = newJobId(now(), randomBytes(4).toString('hex'));
    const abort = new AbortController();
    const slot: Running = { id, abort, done: Promise.resolve(undefined as never) };
    running = slot;
    try {
      await mkdir(config.backup.stateDir, { recursive: true, mode: 0o700 });
      const other = await lock.acquire();
      if (other !== undefined) {
        const job = (await store.load()).find((j) => !isFinished(j));
        throw new NodeCaError('BACKUP_RUNNING', `a backup is running on this node (process ${other})`, { details: { jobId: job?.id, pid: other } });
      }
      const { job, before } = await prepare({ id, source, sourceDir: path.resolve(sourceDir), allowChanges: request.allowChanges ?? false });
      slot.done = execute(job, before, abort.signal).finally(() => {
        running = undefined;
        void lock.release();
      });
      return job;
    } catch (err) {
      running = undefined;
      if (!(err instanceof NodeCaError && err.code === 'BACKUP_RUNNING')) await lock.release();
      throw err;
    }
  }

  async function prepare(req: { id: string; source: string; sourceDir: string; allowChanges: boolean }) {
    await checkSource(req.sourceDir);
    await mkdir(config.backup.dir, { recursive: true });
    const before = await walkSource(req.sourceDir);
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

  async function execute(base: BackupJob, before: SourceWalk, signal: AbortSignal): Promise<BackupJob> {
    // The listed job object itself: progress changes in place, seen by GET at once.
    let current: BackupJob = base;
    let final: BackupJob;
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
          for (const l of listeners) l(current);
        },
        onVerifying: () => {
          current = withPhase(current, 'Verifying');
          void update(current);
        },
        // The first walk's garbage (a Stats object and strings per entry, much of it promoted)
        // goes as the stream starts, not at whatever point of it V8 reaches its old-space
        // limit; and only once tar is started, which has the other core meanwhile.
        onTarStarted: () => {
          exposedGc()?.({ type: 'major', execution: 'sync' });
        },
      });
      deps.metrics?.backupBytes.inc(result.archive.bytes);
      final = finishJob({ ...current, ...result }, { phase: 'Succeeded', now: now() });
    } catch (err) {
      final = await failed(current, err);
    }
    await update(final);
    deps.metrics?.backupsTotal.inc({ phase: final.phase });
    deps.metrics?.backupDuration.observe((Date.parse(final.completionTime ?? '') - Date.parse(final.startTime)) / 1000);
    deps.onJobEnd?.();
    logger.info({ job: final.id, phase: final.phase, error: final.error, archive: final.archive, verification: final.verification && { ...final.verification, changedDuringBackup: final.verification.changedDuringBackup.length } }, 'backup finished');
    return final;
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
    wait: async (id: string): Promise<BackupJob | undefined> => (running?.id === id ? running.done : jobs.find((j) => j.id === id)),
    /** Cancels a running job and waits for it to end; a finished job is returned as it is. */
    async cancel(id: string): Promise<BackupJob | undefined> {
      if (running?.id !== id) return (await merged()).find((j) => j.id === id);
      running.abort.abort();
      return running.done;
    },
    onUpdate(listener: (job: BackupJob) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
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
