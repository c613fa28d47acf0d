import { readFile } from 'node:fs/promises';
import { ConfigError } from '../lib/errors.js';
import { createKubeClient, type KubeClient } from '../kube/client.js';
import { kubeconfigBearerToken, trimKubeconfigTokens } from '../kube/discovery.js';
import { createAgentClient, type AgentClient } from './agent-api.js';
import { createAgentTransport, type AgentTransport } from './agent-client.js';
import { discoverAgents } from './discovery.js';
import type { NodeSelection, TargetProblem } from './targets.js';

export interface FleetSessionOptions {
  /** A kubeconfig file; absent: the in-cluster service account. */
  readonly kubeconfig?: string | undefined;
  /** How the caller is given a kubeconfig, for the error when there is none (the CLI: its flag). */
  readonly kubeconfigHint?: string | undefined;
  readonly namespace: string;
  readonly selection: NodeSelection;
  /** A file holding the bearer token for the agents; absent: the kubeconfig user's token. */
  readonly tokenFile?: string | undefined;
  /** PEM CA that verifies the agents' certificates; absent: accept self-signed ones. */
  readonly caFile?: string | undefined;
}

/** Everything a fleet command needs: one client per reachable agent, the nodes without one. */
export interface FleetSession {
  readonly selector: string;
  readonly clients: readonly AgentClient[];
  readonly problems: readonly TargetProblem[];
  readonly transport: AgentTransport;
  close(): void;
}

/**
 * The caller's token, read afresh: `--token-file` again, or the kubeconfig
 * loaded again (a new client-node config, so an exec plugin runs again
 * instead of answering from its cache, and a `token-file` is re-read).
 */
function tokenSource(options: FleetSessionOptions): () => Promise<string | undefined> {
  const { tokenFile } = options;
  if (tokenFile !== undefined) return async () => (await readFile(tokenFile, 'utf8')).trim();
  return () => kubeconfigBearerToken(kubeClient(options));
}

function kubeClient(options: FleetSessionOptions): KubeClient {
  const kube = createKubeClient({
    kubeconfig: options.kubeconfig,
    kubeconfigHint: options.kubeconfigHint,
  });
  trimKubeconfigTokens(kube);
  return kube;
}

export async function openFleetSession(options: FleetSessionOptions): Promise<FleetSession> {
  const kube = kubeClient(options);
  const obtain = tokenSource(options);
  const token =
    options.tokenFile === undefined ? await kubeconfigBearerToken(kube) : await obtain();
  if (token === undefined || token === '')
    throw new ConfigError(
      options.tokenFile === undefined
        ? 'the kubeconfig user has no bearer token (client certificates cannot be forwarded to the agents); pass --token-file'
        : `--token-file ${options.tokenFile} is empty`,
    );
  const ca = options.caFile === undefined ? undefined : await readFile(options.caFile);
  const found = await discoverAgents(kube, {
    selection: options.selection,
    namespace: options.namespace,
  });
  const transport = createAgentTransport({
    token,
    ca,
    refreshToken: async () => (await obtain()) ?? '',
  });
  return {
    selector: found.selector,
    clients: found.targets.map((t) => createAgentClient(transport, t)),
    problems: found.problems,
    transport,
    close: () => {
      transport.close();
    },
  };
}
