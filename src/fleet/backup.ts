import { setTimeout as sleep } from 'node:timers/promises';
import { isJobFinished, type AgentBackupJob, type AgentClient } from './agent-api.js';
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
 * Starts a backup on every node at once (bounded by `concurrency`), follows
 * each job to its end, and downloads the archives. Returns one result per
 * client, in order; a node fails when its job does not end Succeeded or its
 * download does not match.
 */
export function runFleetBackup(
  clients: readonly AgentClient[],
  options: FleetBackupOptions,
): Promise<NodeResult<NodeBackupOutcome>[]> {
  return fanOut(clients, (client) => backupNode(client, options), {
    concurrency: options.concurrency,
  });
}

async function backupNode(
  client: AgentClient,
  options: FleetBackupOptions,
): Promise<NodeBackupOutcome> {
  if (isAborted(options))
    throw failed(client.node, { code: 'CANCELED', message: 'canceled before start' });
  const started = await client.startBackup(startBody(options));
  options.onJob?.(client.node, started);
  const job = await followJob(client, started, options);
  if (job.phase !== 'Succeeded')
    throw failed(
      client.node,
      job.error ?? { code: job.phase.toUpperCase(), message: `backup ended ${job.phase}` },
      job,
    );
  if (options.outDir === undefined) return { node: client.node, job };
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
      if (errors >= MAX_POLL_ERRORS) throw failed(client.node, failureOf(err), job);
    }
  }
  return job;
}

/** DELETE, then read until the agent reports the end (the tar process is gone, the partial file removed). */
async function cancelJob(
  client: AgentClient,
  running: AgentBackupJob,
  options: FleetBackupOptions,
): Promise<AgentBackupJob> {
  let job = await client.cancelBackup(running.id).catch(() => running);
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
