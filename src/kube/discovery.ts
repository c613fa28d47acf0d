import type { V1Pod } from '@kubernetes/client-node';
import { errorMessage } from '../lib/errors.js';
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
  /** metadata.creationTimestamp in ms, when known: the newest of two Ready pods is the one to call. */
  readonly created?: number;
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
    ...createdOf(pod),
  };
}

function createdOf(pod: V1Pod): Pick<PodEndpoint, 'created'> {
  const at = pod.metadata?.creationTimestamp;
  return at === undefined ? {} : { created: new Date(at).getTime() };
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * The bearer token of the kubeconfig's current user, as client-node computes
 * it for its own requests (a static token, a token file, or an exec /
 * auth-provider plugin), surrounding whitespace trimmed as client-go does.
 * Undefined when the user authenticates otherwise (client certificate, basic
 * auth): the agents only accept bearer tokens. A failure never carries the
 * token into its message.
 */
export async function kubeconfigBearerToken(kube: KubeClient): Promise<string | undefined> {
  let header: unknown;
  try {
    // The https form: plain headers, so a token with a newline is not rejected before it is trimmed.
    const opts: { headers?: Record<string, unknown> } = {};
    await kube.kubeConfig.applyToHTTPSOptions(opts);
    header = opts.headers?.Authorization ?? opts.headers?.authorization;
  } catch (err) {
    throw new Error(`kubeconfig user credentials: ${redactBearer(errorMessage(err))}`);
  }
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S[\s\S]*)$/i.exec(header.trim());
  const token = match?.[1]?.trim();
  return token === undefined || token === '' ? undefined : token;
}

/**
 * Trims the kubeconfig users' static tokens (from `token` or `token-file`) as
 * client-go does: client-node keeps a token file's trailing newline, and the
 * header it then builds is refused with the token in the message.
 */
export function trimKubeconfigTokens(kube: KubeClient): void {
  const config = kube.kubeConfig;
  config.users = config.users.map((u) =>
    u.token === undefined || u.token === u.token.trim() ? u : { ...u, token: u.token.trim() },
  );
}

/** `Bearer <anything>` → `Bearer <redacted>`, for messages that might quote a header. */
export function redactBearer(text: string): string {
  return text.replace(/Bearer\s+\S+/gi, 'Bearer <redacted>');
}
