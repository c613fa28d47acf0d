import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isJobFinished, type AgentBackupJob, type AgentClient } from './agent-api.js';
import { AgentCallError } from './agent-client.js';
import { downloadArchive, type ArchiveDownload } from './download.js';
import { fanOut, failureOf, NodeOperationFailed, type NodeResult } from './fan-out.js';

/** One node's backup as the fleet saw it: the agent's last job and, with an out dir, the download. */
export interface NodeBackupOutcome {
  readonly node: string;
  readonly job?: AgentBackupJob;
  readonly download?: ArchiveDownload;
}

export interface FleetBackupOptions {
  readonly source?: string | undefined;
  readonly allowChanges?: boolean | undefined;
  /** Download every Succeeded archive with its sidecars into `<outDir>/<node>/`. */
  readonly outDir?: string | undefined;
  /** Downloads at a time (default: all); every node's backup starts at once regardless. */
  readonly concurrency?: number | undefined;
  /** How often each job is read while it runs (default 500 ms). */
  readonly pollMs?: number | undefined;
  /** Abort (Ctrl-C): running jobs are canceled with DELETE, then their final state is reported. */
  readonly signal?: AbortSignal | undefined;
  /** Every job state read, for progress display. */
  readonly onJob?: ((node: string, job: AgentBackupJob) => void) | undefined;
  /** A download starts or ends. */
  readonly onDownload?: ((node: string, phase: 'start' | 'end') => void) | undefined;
}

/** Consecutive failed reads of a running job before the node counts as lost. */
const MAX_POLL_ERRORS = 5;
/** How long a canceled job may take to reach Canceled. */
const CANCEL_WAIT_MS = 15_000;

/**
 * Starts a backup on every node at once (SPEC: the copies are taken together),
 * follows each job to its end, and downloads the archives, at most
 * `concurrency` downloads at a time. Returns one result per client, in order;
 * a node fails when its job does not end Succeeded or its download does not
 * match.
 */
export async function runFleetBackup(
  clients: readonly AgentClient[],
  options: FleetBackupOptions,
): Promise<NodeResult<NodeBackupOutcome>[]> {
  const taken =
    options.outDir === undefined ? new Map<string, string[]>() : await outDirsInUse(clients, options.outDir);
  if (taken.size > 0) return clients.map((c) => notStarted(c.node, taken));
  const downloads = limiter(options.concurrency ?? 0);
  return fanOut(clients, (client) => backupNode(client, options, downloads));
}

/**
 * Nodes whose `<outDir>/<node>/` already holds files (a `.partial` left by a
 * killed run aside), checked before any backup starts: a collision found
 * after the backups would waste them, and starting only the other nodes would
 * break the "all at once" the copies need.
 */
async function outDirsInUse(
  clients: readonly AgentClient[],
  outDir: string,
): Promise<Map<string, string[]>> {
  const taken = new Map<string, string[]>();
  for (const { node } of clients) {
    const files = await readdir(path.join(outDir, node)).catch(() => []);
    const kept = files.filter((f) => !f.endsWith('.partial'));
    if (kept.length > 0) taken.set(node, kept);
  }
  return taken;
}

function notStarted(
  node: string,
  taken: ReadonlyMap<string, string[]>,
): NodeResult<NodeBackupOutcome> {
  const files = taken.get(node);
  const error =
    files === undefined
      ? {
          code: 'NOT_STARTED',
          message: `not started: the out dir of ${[...taken.keys()].join(', ')} is in use`,
        }
      : {
          code: 'OUT_FILE_EXISTS',
          message: `not started: ${node}/ in the out dir already holds ${files.join(', ')}; use a new --out-dir`,
        };
  return { node, ok: false, error };
}

type Limit = <T>(work: () => Promise<T>) => Promise<T>;

/** At most `n` of the works at a time (0: no bound). */
export function limiter(n: number): Limit {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (n > 0 && active >= n) await new Promise<void>((r) => waiting.push(r));
    active += 1;
    try {
      return await work();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}

async function backupNode(
  client: AgentClient,
  options: FleetBackupOptions,
  downloads: Limit,
): Promise<NodeBackupOutcome> {
  if (isAborted(options))
    throw failed(client.node, { code: 'CANCELED', message: 'canceled before start' });
  const started = await startJob(client, options);
  options.onJob?.(client.node, started);
  const job = await followJob(client, started, options);
  if (job.phase !== 'Succeeded') throw failed(client.node, endFailure(client.node, job), job);
  if (options.outDir === undefined) return { node: client.node, job };
  const outDir = options.outDir;
  return downloads(() => downloadJob(client, job, { ...options, outDir }));
}

/**
 * POST the backup. When fleet stops waiting for the answer (the agent walks
 * the whole source first), the job may well be running: the node's newest job
 * started since the POST is taken as it, so it is followed (or canceled)
 * instead of left behind.
 */
async function startJob(client: AgentClient, options: FleetBackupOptions): Promise<AgentBackupJob> {
  const sentAt = Date.now();
  try {
    return await client.startBackup(startBody(options));
  } catch (err) {
    if (!(err instanceof AgentCallError) || err.code !== 'FLEET_TIMEOUT') throw err;
    const found = await jobStartedSince(client, sentAt);
    if (found !== undefined) return found;
    throw failed(client.node, {
      code: err.code,
      message: `${err.message}; the backup may be running on ${client.node} without fleet knowing its id (see GET /v1/backups there)`,
    });
  }
}

/** Clocks differ: a job that started up to this long before the POST still counts. */
const CLOCK_SLACK_MS = 60_000;

async function jobStartedSince(
  client: AgentClient,
  sentAt: number,
): Promise<AgentBackupJob | undefined> {
  const jobs = await client.listBackups().catch(() => []);
  return jobs
    .filter((j) => Date.parse(j.startTime) >= sentAt - CLOCK_SLACK_MS)
    .sort((a, b) => Date.parse(b.startTime) - Date.parse(a.startTime))[0];
}

async function downloadJob(
  client: AgentClient,
  job: AgentBackupJob,
  options: FleetBackupOptions & { outDir: string },
): Promise<NodeBackupOutcome> {
  options.onDownload?.(client.node, 'start');
  try {
    const download = await downloadArchive(() => client.openArchive(job.id, options.signal), job, {
      outDir: options.outDir,
      node: client.node,
    });
    return { node: client.node, job, download };
  } catch (err) {
    throw failed(client.node, failureOf(err), job);
  } finally {
    options.onDownload?.(client.node, 'end');
  }
}

function endFailure(node: string, job: AgentBackupJob): { code: string; message: string } {
  if (job.error !== undefined) return job.error;
  const message = isJobFinished(job)
    ? `backup ended ${job.phase}`
    : `backup ${job.id} is still ${job.phase} on ${node}`;
  return { code: job.phase.toUpperCase(), message };
}

function startBody(options: FleetBackupOptions): { source?: string; allowChanges: boolean } {
  const body = { allowChanges: options.allowChanges ?? false };
  return options.source === undefined ? body : { ...body, source: options.source };
}

async function followJob(
  client: AgentClient,
  start: AgentBackupJob,
  options: FleetBackupOptions,
): Promise<AgentBackupJob> {
  let job = start;
  let errors = 0;
  while (!isJobFinished(job)) {
    if (isAborted(options)) return cancelJob(client, job, options);
    await sleep(options.pollMs ?? 500, undefined, { signal: options.signal }).catch(
      () => undefined,
    );
    if (isAborted(options)) continue;
    try {
      job = await client.getBackup(job.id);
      errors = 0;
      options.onJob?.(client.node, job);
    } catch (err) {
      errors += 1;
      if (errors >= MAX_POLL_ERRORS) throw abandoned(client.node, err, job);
    }
  }
  return job;
}

/** Fleet stops following a job it cannot read: the node fails, saying the job may still run there. */
function abandoned(
  node: string,
  err: unknown,
  job: AgentBackupJob,
): NodeOperationFailed<NodeBackupOutcome> {
  const f = failureOf(err);
  return failed(
    node,
    {
      ...f,
      message: `${f.message}; fleet stopped following backup ${job.id}, which may still be running on ${node}`,
    },
    job,
  );
}

/**
 * DELETE, then read until the agent reports the end (the tar process is gone,
 * the partial file removed). A refused DELETE fails the node at once with the
 * agent's answer: the job is still running there.
 */
async function cancelJob(
  client: AgentClient,
  running: AgentBackupJob,
  options: FleetBackupOptions,
): Promise<AgentBackupJob> {
  let job = running;
  try {
    job = await client.cancelBackup(running.id);
  } catch (err) {
    const f = failureOf(err);
    throw failed(
      client.node,
      {
        ...f,
        message: `cancel refused (${f.message}); backup ${running.id} is still running on ${client.node}`,
      },
      running,
    );
  }
  options.onJob?.(client.node, job);
  const deadline = Date.now() + CANCEL_WAIT_MS;
  while (!isJobFinished(job) && Date.now() < deadline) {
    await sleep(200);
    job = await client.getBackup(job.id).catch(() => job);
    options.onJob?.(client.node, job);
  }
  return job;
}

function failed(
  node: string,
  error: { code: string; message: string },
  job?: AgentBackupJob,
): NodeOperationFailed<NodeBackupOutcome> {
  return new NodeOperationFailed(error, job === undefined ? { node } : { node, job });
}

function isAborted(options: FleetBackupOptions): boolean {
  return options.signal?.aborted === true;
}
