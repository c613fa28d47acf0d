import type { IncomingMessage } from 'node:http';
import { pullCheckImageTimeoutMs, pullChecksAtOnce } from '../pull/limits.js';
import {
  agentJson,
  agentRequest,
  errorFromBody,
  readText,
  type AgentTransport,
} from './agent-client.js';

/** The backup job as SPEC defines it (the fields fleet reads). */
export interface AgentBackupJob {
  readonly id: string;
  readonly node: string;
  readonly source: string;
  readonly archivePath: string;
  readonly phase: 'Pending' | 'Running' | 'Verifying' | 'Succeeded' | 'Failed' | 'Canceled';
  readonly startTime: string;
  readonly completionTime?: string;
  readonly progress: {
    bytesDone: number;
    bytesTotal: number;
    filesDone: number;
    filesTotal: number;
  };
  readonly archive?: { bytes: number; sha256: string };
  readonly verification?: {
    archiveFiles: number;
    archiveBytes: number;
    matched: boolean;
    changedDuringBackup: string[];
  };
  readonly error?: { code: string; message: string };
}

export interface AgentPullCheckResult {
  readonly image: string;
  readonly ok: boolean;
  readonly runtime?: string;
  readonly digest?: string;
  readonly durationMs?: number;
  readonly error?: { code: string; message: string };
}

/** The parts of `GET /v1/status` fleet reads. */
export interface AgentStatus {
  readonly node: string;
  readonly trust?: {
    readonly ready?: boolean;
    readonly lastSyncTime?: string | null;
    readonly registries?: readonly {
      host: string;
      certificates: readonly { fingerprint: string }[];
    }[];
  };
}

/** Added to a derived wait: the runtime detection, the answer's way back, a loaded node. */
const MARGIN_MS = 30_000;
/**
 * `POST /v1/backups` answers after the agent's first walk of the source,
 * which can take minutes on a big cold MinIO directory.
 */
export const START_BACKUP_TIMEOUT_MS = 10 * 60_000;

/** How long fleet waits for a pull check of `images`: the agent's worst case plus a margin. */
export function pullCheckTimeoutMs(images: number): number {
  const waves = Math.max(1, Math.ceil(images / pullChecksAtOnce));
  return waves * pullCheckImageTimeoutMs + MARGIN_MS;
}

const finished = new Set(['Succeeded', 'Failed', 'Canceled']);
export function isJobFinished(job: AgentBackupJob): boolean {
  return finished.has(job.phase);
}

/** One node's agent: the SPEC routes fleet calls. */
export interface AgentClient {
  readonly node: string;
  readonly url: string;
  status(signal?: AbortSignal): Promise<AgentStatus>;
  startBackup(
    body: { source?: string; allowChanges?: boolean },
    signal?: AbortSignal,
  ): Promise<AgentBackupJob>;
  getBackup(id: string, signal?: AbortSignal): Promise<AgentBackupJob>;
  /** `GET /v1/backups`: the node's jobs (needs the `list` verb). */
  listBackups(signal?: AbortSignal): Promise<AgentBackupJob[]>;
  cancelBackup(id: string): Promise<AgentBackupJob>;
  /** The finished archive's response stream (200 checked), with Content-Length. */
  openArchive(id: string, signal?: AbortSignal): Promise<IncomingMessage>;
  pullCheck(
    images: readonly string[],
    signal?: AbortSignal,
  ): Promise<{ ok: boolean; results: AgentPullCheckResult[] }>;
}

export function createAgentClient(
  transport: AgentTransport,
  target: { node: string; url: string },
): AgentClient {
  const { url } = target;
  const json = <T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    extra: { signal?: AbortSignal | undefined; timeoutMs?: number } = {},
  ) => agentJson<T>(transport, url, { method, path, body, ...extra });
  const job = (id: string) => `/v1/backups/${encodeURIComponent(id)}`;
  return {
    node: target.node,
    url,
    status: (signal) => json('GET', '/v1/status', undefined, { signal }),
    startBackup: (body, signal) =>
      json('POST', '/v1/backups', body, { signal, timeoutMs: START_BACKUP_TIMEOUT_MS }),
    getBackup: (id, signal) => json('GET', job(id), undefined, { signal }),
    listBackups: async (signal) =>
      (await json<{ items?: AgentBackupJob[] }>('GET', '/v1/backups', undefined, { signal }))
        .items ?? [],
    cancelBackup: (id) => json('DELETE', job(id)),
    pullCheck: (images, signal) =>
      json(
        'POST',
        '/v1/pull-checks',
        { images },
        { signal, timeoutMs: pullCheckTimeoutMs(images.length) },
      ),
    async openArchive(id, signal) {
      const res = await agentRequest(transport, url, {
        method: 'GET',
        path: `${job(id)}/archive`,
        signal,
      });
      if (res.statusCode === 200) return res;
      const text = await readText(res);
      throw errorFromBody(safeParse(text), res.statusCode ?? 0, `GET ${job(id)}/archive`);
    },
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
