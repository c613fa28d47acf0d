import type { AgentClient, AgentStatus } from './agent-api.js';
import { fanOut, type NodeResult } from './fan-out.js';

/** What `fleet status` shows of one node's `/v1/status`. */
export interface NodeTrustSummary {
  readonly node: string;
  readonly ready: boolean;
  readonly lastSyncTime: string | null;
  readonly registries: number;
  /** host → the sorted sha256 fingerprints of its CA bundle. */
  readonly fingerprints: Readonly<Record<string, readonly string[]>>;
  /** Hosts whose fingerprint set differs from the majority of reachable nodes (a missed rotation). */
  readonly drift: readonly string[];
}

export function summarizeStatus(
  node: string,
  status: AgentStatus,
): Omit<NodeTrustSummary, 'drift'> {
  const registries = status.trust?.registries ?? [];
  const fingerprints: Record<string, string[]> = {};
  for (const r of registries)
    fingerprints[r.host] = r.certificates.map((c) => c.fingerprint).sort();
  return {
    node,
    ready: status.trust?.ready ?? false,
    lastSyncTime: status.trust?.lastSyncTime ?? null,
    registries: registries.length,
    fingerprints,
  };
}

const ABSENT = '(absent)';

/**
 * For each host any node knows, the fingerprint set held by more than half
 * of the nodes is the majority; a node holding another set (or none) drifts
 * for that host. Without a strict majority every node is flagged: nobody
 * can tell which side missed the rotation.
 */
export function computeDrift(
  nodes: readonly Omit<NodeTrustSummary, 'drift'>[],
): Map<string, string[]> {
  const hosts = [...new Set(nodes.flatMap((n) => Object.keys(n.fingerprints)))].sort();
  const drift = new Map<string, string[]>(nodes.map((n) => [n.node, []]));
  for (const host of hosts) {
    const keyOf = (n: Omit<NodeTrustSummary, 'drift'>) => n.fingerprints[host]?.join(',') ?? ABSENT;
    const counts = new Map<string, number>();
    for (const n of nodes) counts.set(keyOf(n), (counts.get(keyOf(n)) ?? 0) + 1);
    const [top, count] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? ['', 0];
    const majority = count * 2 > nodes.length ? top : undefined;
    for (const n of nodes) if (keyOf(n) !== majority) drift.get(n.node)?.push(host);
  }
  return drift;
}

/** `GET /v1/status` on every node, then drift against the majority of the nodes that answered. */
export async function runFleetStatus(
  clients: readonly AgentClient[],
  options: { concurrency?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<NodeResult<NodeTrustSummary>[]> {
  const answers = await fanOut(
    clients,
    async (c) => summarizeStatus(c.node, await c.status(options.signal)),
    options,
  );
  const reachable = answers.flatMap((a) => (a.ok ? [a.value] : []));
  const drift = computeDrift(reachable);
  return answers.map((a) => {
    if (!a.ok) return { node: a.node, ok: false, error: a.error };
    const value = { ...a.value, drift: drift.get(a.node) ?? [] };
    if (value.drift.length > 0)
      return {
        node: a.node,
        ok: false,
        value,
        error: {
          code: 'CA_DRIFT',
          message: `CA set differs from the majority for ${value.drift.join(', ')}`,
        },
      };
    if (!value.ready)
      return {
        node: a.node,
        ok: false,
        value,
        error: { code: 'NOT_READY', message: 'trust sync not complete' },
      };
    return { node: a.node, ok: true, value };
  });
}
