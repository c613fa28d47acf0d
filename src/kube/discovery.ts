import type { V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';

/** What fleet discovery needs of a Pod: where it runs, whether it is Ready, its `api` port. */
export interface PodEndpoint {
  readonly name: string;
  readonly nodeName: string | undefined;
  readonly podIP: string | undefined;
  readonly ready: boolean;
  readonly deleting: boolean;
  /** The containerPort named `api`, if any container declares one. */
  readonly apiPort: number | undefined;
}

/** Names of the nodes matching a label selector ("" = all nodes). */
export async function listNodeNames(kube: KubeClient, labelSelector: string): Promise<string[]> {
  const list = await kube.core.listNode(labelSelector === '' ? {} : { labelSelector });
  return list.items.map((n) => n.metadata?.name ?? '').filter((n) => n !== '');
}

/** Pods in a namespace matching a label selector, reduced to what a caller of their API needs. */
export async function listPodEndpoints(
  kube: KubeClient,
  namespace: string,
  labelSelector: string,
): Promise<PodEndpoint[]> {
  const list = await kube.core.listNamespacedPod({ namespace, labelSelector });
  return list.items.map(podEndpoint);
}

function podEndpoint(pod: V1Pod): PodEndpoint {
  const ports = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  return {
    name: pod.metadata?.name ?? '',
    nodeName: pod.spec?.nodeName,
    podIP: pod.status?.podIP,
    ready: isReady(pod),
    deleting: pod.metadata?.deletionTimestamp !== undefined,
    apiPort: ports.find((p) => p.name === 'api')?.containerPort,
  };
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * The bearer token of the kubeconfig's current user, as client-node computes
 * it for its own requests (a static token, a token file, or an exec /
 * auth-provider plugin). Undefined when the user authenticates otherwise
 * (client certificate, basic auth): the agents only accept bearer tokens.
 */
export async function kubeconfigBearerToken(kube: KubeClient): Promise<string | undefined> {
  const init = await kube.kubeConfig.applyToFetchOptions({});
  // client-node builds a node-fetch Headers object; `get` is case-insensitive.
  const headers = init.headers as { get(name: string): string | null } | undefined;
  const header = headers?.get('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}
