import { existsSync } from 'node:fs';
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  EventsV1Api,
  KubeConfig,
  Observable,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { ConfigError, errorMessage } from '../lib/errors.js';

/** The service account token path the in-cluster configuration reads. */
export const serviceAccountTokenPath = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * The API clients the agent uses, built from one KubeConfig. This folder is
 * the only importer of @kubernetes/client-node; everything else sees these
 * narrow functions.
 */
export interface KubeClient {
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly authentication: AuthenticationV1Api;
  readonly authorization: AuthorizationV1Api;
  readonly events: EventsV1Api;
  /** The API server URL, for status and logs. */
  readonly server: string;
}

export interface KubeClientOptions {
  /** A kubeconfig file; absent: the in-cluster service account. */
  readonly kubeconfig?: string | undefined;
  /**
   * How this command is given a kubeconfig, for the error when it has none and
   * is not in a pod (default: the agent's, `kubeconfig` in its configuration).
   */
  readonly kubeconfigHint?: string | undefined;
}

const agentKubeconfigHint = 'set kubeconfig in the configuration or KUBECONFIG';

/**
 * From `kubeconfig` (a file) when given, else the in-cluster service account,
 * chosen explicitly. client-node's `loadFromDefault` silently falls back to
 * `http://localhost:8080` when neither exists; we fail fast instead, with a
 * message that says what to set.
 */
export function createKubeClient(options: KubeClientOptions): KubeClient {
  const kc = new KubeConfig();
  if (options.kubeconfig !== undefined) loadFile(kc, options.kubeconfig);
  else loadInCluster(kc, options.kubeconfigHint ?? agentKubeconfigHint);
  const cluster = kc.getCurrentCluster();
  if (cluster === null)
    throw new ConfigError(
      `kubeconfig ${options.kubeconfig ?? '(in-cluster)'} has no current cluster`,
    );
  return {
    kubeConfig: kc,
    core: kc.makeApiClient(CoreV1Api),
    authentication: kc.makeApiClient(AuthenticationV1Api),
    authorization: kc.makeApiClient(AuthorizationV1Api),
    events: kc.makeApiClient(EventsV1Api),
    server: cluster.server,
  };
}

function loadFile(kc: KubeConfig, file: string): void {
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new ConfigError(`kubeconfig: cannot load ${file}: ${errorMessage(err)}`);
  }
}

function loadInCluster(kc: KubeConfig, kubeconfigHint: string): void {
  const hint = `${kubeconfigHint}, or run in a pod with a service account`;
  if (!existsSync(serviceAccountTokenPath))
    throw new ConfigError(
      `kubeconfig: none given and not in a cluster (no ${serviceAccountTokenPath}); ${hint}`,
    );
  kc.loadFromCluster();
  const server = kc.getCurrentCluster()?.server ?? '';
  // loadFromCluster reads KUBERNETES_SERVICE_HOST/PORT itself and writes "undefined" when they are unset.
  if (server.includes('undefined'))
    throw new ConfigError(
      `kubeconfig: none given and KUBERNETES_SERVICE_HOST/PORT are unset; ${hint}`,
    );
}

/** How long one API request (a list, a review, an Event) may take before it is abandoned. */
export const apiRequestTimeoutMs = 30_000;

/**
 * Per-request options that end the request after `ms`, whatever stage it is at
 * (connect, TLS, headers, body): client-node sets no timeout of its own, so one
 * request to a stalled API server (an overloaded apiserver, a load balancer in
 * front of a dead one) would otherwise hang for good. The signal reaches the
 * fetch, which closes the socket.
 */
export function withDeadline(ms = apiRequestTimeoutMs): ConfigurationOptions {
  const deadline = {
    pre: (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(ms));
      return new Observable(Promise.resolve(context));
    },
    post: (context: ResponseContext) => new Observable(Promise.resolve(context)),
  };
  // The object-parameter API hands per-call middleware to the Observable API as they are.
  return { middleware: [deadline], middlewareMergeStrategy: 'append' };
}
