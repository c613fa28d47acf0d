import type { PodEndpoint } from '../kube/discovery.js';

/**
 * Which nodes a fleet command acts on, and where each node's agent answers
 * (pure). A selected node without a usable agent is a failure of that node,
 * never silently skipped: the orchestrator must back up all three or know why not.
 */

export const CONTROL_PLANE_SELECTOR = 'node-role.kubernetes.io/control-plane';
export const MASTER_SELECTOR = 'node-role.kubernetes.io/master';
/** The default selection in words: nodes with either role label (a label selector cannot say "or"). */
export const CONTROL_PLANE_OR_MASTER = `${CONTROL_PLANE_SELECTOR} or ${MASTER_SELECTOR}`;
export const AGENT_POD_SELECTOR = 'app.kubernetes.io/name=node-ca';

/** How nodes are chosen: by name, by an explicit selector, or the command's default. */
export type NodeSelection =
  | { readonly kind: 'names'; readonly names: readonly string[] }
  | { readonly kind: 'selector'; readonly selector: string }
  | { readonly kind: 'control-plane' }
  | { readonly kind: 'all' };

/** What discovery knows about an agent pod: one shape, defined where it is read from the API. */
export type AgentPodInfo = PodEndpoint;

/** A node with a reachable agent. */
export interface FleetTarget {
  readonly node: string;
  readonly url: string;
  readonly pod: string;
}

export type TargetProblemCode =
  | 'NODE_NOT_FOUND'
  | 'AGENT_MISSING'
  | 'AGENT_TERMINATING'
  | 'AGENT_NOT_READY'
  | 'AGENT_NO_API_PORT';

/** A selected node whose agent cannot be called. */
export interface TargetProblem {
  readonly node: string;
  readonly code: TargetProblemCode;
  readonly message: string;
}

/** The selection in words, for messages. */
export interface ResolvedNodes {
  readonly nodes: readonly string[];
  readonly selector: string;
  /** Named nodes that do not exist. */
  readonly missing: readonly string[];
}

/**
 * Resolves a selection with a node lister (label selector → names; "" lists
 * all). The control-plane default takes the nodes with either the
 * `control-plane` role label or the `master` one that clusters before
 * Kubernetes 1.20 (and some distributions, and half-upgraded clusters) use.
 */
export async function resolveNodes(
  selection: NodeSelection,
  listNodes: (labelSelector: string) => Promise<readonly string[]>,
): Promise<ResolvedNodes> {
  switch (selection.kind) {
    case 'names': {
      const all = new Set(await listNodes(''));
      const names = [...new Set(selection.names)];
      return {
        nodes: names,
        selector: `names ${names.join(',')}`,
        missing: names.filter((n) => !all.has(n)),
      };
    }
    case 'selector':
      return {
        nodes: sorted(await listNodes(selection.selector)),
        selector: selection.selector,
        missing: [],
      };
    case 'all':
      return { nodes: sorted(await listNodes('')), selector: '(all nodes)', missing: [] };
    case 'control-plane': {
      const [cp, master] = await Promise.all([
        listNodes(CONTROL_PLANE_SELECTOR),
        listNodes(MASTER_SELECTOR),
      ]);
      return { nodes: sorted([...new Set([...cp, ...master])]), selector: CONTROL_PLANE_OR_MASTER, missing: [] };
    }
  }
}

function sorted(names: readonly string[]): string[] {
  return [...names].sort((a, b) => a.localeCompare(b));
}

/** `https://<podIP>:<api port>`, brackets around an IPv6 address. */
export function agentUrl(pod: Pick<AgentPodInfo, 'podIP' | 'apiPort'>): string | undefined {
  if (pod.podIP === undefined || pod.podIP === '' || pod.apiPort === undefined) return undefined;
  const host = pod.podIP.includes(':') ? `[${pod.podIP}]` : pod.podIP;
  return `https://${host}:${pod.apiPort}`;
}

/** For each node, its Ready agent pod's URL, or why there is none. */
export function matchAgents(
  resolved: ResolvedNodes,
  pods: readonly AgentPodInfo[],
): (FleetTarget | TargetProblem)[] {
  const missing = new Set(resolved.missing);
  return resolved.nodes.map((node) => {
    if (missing.has(node)) return problem(node, 'NODE_NOT_FOUND', `node ${node} does not exist`);
    const all = pods.filter((p) => p.nodeName === node);
    const onNode = all.filter((p) => !p.deleting);
    const ready = onNode.filter((p) => p.ready && agentUrl(p) !== undefined);
    // Two Ready pods on a node (a DaemonSet surge rollout): the newest, which the old one makes way for.
    const chosen = ready.sort((a, b) => (b.created ?? 0) - (a.created ?? 0) || a.name.localeCompare(b.name))[0];
    if (chosen !== undefined) return { node, url: agentUrl(chosen) ?? '', pod: chosen.name };
    if (onNode.length === 0) return absent(node, all);
    if (!onNode.some((p) => p.ready)) {
      const names = onNode.map((p) => p.name).join(', ');
      return problem(node, 'AGENT_NOT_READY', `node-ca pod ${names} on node ${node} is not Ready`);
    }
    return problem(
      node,
      'AGENT_NO_API_PORT',
      `node-ca pod on node ${node} has no pod IP or no containerPort named api`,
    );
  });
}

/** No live pod on the node: none at all, or only terminating ones (a rollout or eviction under way). */
function absent(node: string, all: readonly AgentPodInfo[]): TargetProblem {
  if (all.length === 0) return problem(node, 'AGENT_MISSING', `no node-ca pod on node ${node}`);
  const names = all.map((p) => p.name).join(', ');
  return problem(
    node,
    'AGENT_TERMINATING',
    `node-ca pod ${names} on node ${node} is terminating (no replacement yet); retry when the new pod is Ready`,
  );
}

function problem(node: string, code: TargetProblemCode, message: string): TargetProblem {
  return { node, code, message };
}

export function isTarget(t: FleetTarget | TargetProblem): t is FleetTarget {
  return 'url' in t;
}
