import type { Config } from './config/schema.js';
import type { EventSink } from './lib/events.js';
import type { Logger } from './lib/logger.js';
import type { Metrics } from './lib/metrics.js';
import { createHostsManager, type HostsManager } from './hosts/manager.js';
import { createKubeClient, type KubeClient } from './kube/client.js';
import { createKubeEventSink } from './kube/events.js';
import { createReviewer } from './kube/reviews.js';
import { createServiceWatches } from './kube/services.js';
import { buildApiStatus, type WatchState } from './kube/watch.js';
import type { AccessReviewer } from './server/auth.js';
import { accessReviewerFrom } from './server/kube-reviewer.js';
import { createConfigMapSource } from './trust/sources/configmap.js';
import type { TrustSource } from './trust/sources/source.js';

/**
 * The agent's Kubernetes half: client, Events, reviewer, the API-watched CA
 * source and the hosts manager. A module of its own so that an agent that
 * needs no API never loads @kubernetes/client-node (about 70 MiB of RSS);
 * the composition root imports it dynamically.
 */
export interface KubeWiring {
  readonly client: KubeClient;
  readonly events: EventSink;
  readonly reviewer: AccessReviewer;
  /** The API-watched CA source, when `trust.sourceDir` is absent. */
  readonly source: TrustSource | undefined;
  readonly hosts: Hosts | undefined;
  apiStatus(): unknown;
}

export interface Hosts {
  readonly manager: HostsManager;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function wireKubernetes(config: Config, d: { logger: Logger; metrics: Metrics; events?: EventSink }): KubeWiring {
  const client = createKubeClient({ kubeconfig: config.kubeconfig });
  const { logger, metrics } = d;
  const events = d.events ?? createKubeEventSink({ client, nodeName: config.nodeName, pod: config.pod, logger, metrics });
  const watches: { state(): WatchState }[] = [];
  const source =
    config.trust.sourceDir === undefined
      ? createConfigMapSource({ client, ...config.trust.configMap, logger: logger.child({ component: 'trust' }), metrics })
      : undefined;
  if (source !== undefined) watches.push(source);
  const hosts = createHosts(config, client, { logger, metrics, events, watches });
  return {
    client,
    events,
    reviewer: accessReviewerFrom(createReviewer(client, metrics)),
    source,
    hosts,
    apiStatus: () => buildApiStatus(client.server, watches),
  };
}

interface HostsDeps {
  logger: Logger;
  metrics: Metrics;
  events: EventSink;
  watches: { state(): WatchState }[];
}

function createHosts(config: Config, client: KubeClient, d: HostsDeps): Hosts | undefined {
  if (config.hosts.file === '' || config.hosts.services.length === 0) return undefined;
  const logger = d.logger.child({ component: 'hosts' });
  // Watches call onChange only after start(), once `manager` exists.
  const sources = createServiceWatches({ client, services: config.hosts.services, onChange: () => void manager.reconcile(), logger, metrics: d.metrics });
  const manager = createHostsManager({ file: config.hosts.file, clusterDomain: config.hosts.clusterDomain, sources, logger, metrics: d.metrics, events: d.events });
  for (const s of sources) d.watches.push(s.watch);
  return {
    manager,
    start: async () => {
      await Promise.all(sources.map((s) => s.watch.start()));
    },
    stop: async () => {
      await Promise.all(sources.map((s) => s.watch.stop()));
      await manager.idle();
    },
  };
}
