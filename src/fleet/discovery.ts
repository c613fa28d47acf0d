import { ConfigError } from '../lib/errors.js';
import type { KubeClient } from '../kube/client.js';
import { listNodeNames, listPodEndpoints } from '../kube/discovery.js';
import type { NodeResult } from './fan-out.js';
import {
  AGENT_POD_SELECTOR,
  isTarget,
  matchAgents,
  resolveNodes,
  type FleetTarget,
  type NodeSelection,
  type TargetProblem,
} from './targets.js';

export interface FleetDiscovery {
  /** The selector that chose the nodes (after the control-plane → master fallback). */
  readonly selector: string;
  readonly targets: readonly FleetTarget[];
  /** Selected nodes without a callable agent: each is that node's failure. */
  readonly problems: readonly TargetProblem[];
}

/** Nodes by selection, then each node's Ready node-ca pod in `namespace` (SPEC "Command line", fleet). */
export async function discoverAgents(
  kube: KubeClient,
  options: { selection: NodeSelection; namespace: string },
): Promise<FleetDiscovery> {
  const resolved = await resolveNodes(options.selection, (selector) =>
    listNodeNames(kube, selector),
  );
  if (resolved.nodes.length === 0) throw new ConfigError(`no node matches ${resolved.selector}`);
  const pods = await listPodEndpoints(kube, options.namespace, AGENT_POD_SELECTOR);
  const matched = matchAgents(resolved, pods);
  return {
    selector: resolved.selector,
    targets: matched.filter(isTarget),
    problems: matched.filter((m): m is TargetProblem => !isTarget(m)),
  };
}

/** Results of the reachable nodes plus a failure per problem node, sorted by node name. */
export function withProblems<T>(
  results: readonly NodeResult<T>[],
  problems: readonly TargetProblem[],
): NodeResult<T>[] {
  const failed: NodeResult<T>[] = problems.map((p) => ({
    node: p.node,
    ok: false,
    error: { code: p.code, message: p.message },
  }));
  return [...results, ...failed].sort((a, b) => a.node.localeCompare(b.node));
}
