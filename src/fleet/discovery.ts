import { ConfigError } from '../lib/errors.js';
import type { KubeClient } from '../kube/client.js';
import { listNodeNames, listPodEndpoints, redactBearer } from '../kube/discovery.js';
import { describeApiError } from '../kube/errors.js';
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
    apiCall(selector === '' ? 'list nodes' : `list nodes -l ${selector}`, () =>
      listNodeNames(kube, selector),
    ),
  );
  if (resolved.nodes.length === 0) throw new ConfigError(`no node matches ${resolved.selector}`);
  const pods = await apiCall(`list pods in ${options.namespace}`, () =>
    listPodEndpoints(kube, options.namespace, AGENT_POD_SELECTOR),
  );
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

/** Kubernetes API errors embed headers and bodies; the user sees the call, the status and the reason. */
async function apiCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    // Never a token in a message: client-node quotes a refused Authorization header whole.
    throw new Error(`Kubernetes API: ${what}: ${redactBearer(describeApiError(err))}`);
  }
}
