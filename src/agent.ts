import { chmod, mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { splitListen } from './config/load.js';
import type { Config } from './config/schema.js';
import { errnoCode } from './lib/errors.js';
import { noEvents, type EventSink } from './lib/events.js';
import type { Logger } from './lib/logger.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { createApp } from './server/app.js';
import { healthRoutes } from './server/routes/health.js';
import { metricsRoutes } from './server/routes/metrics.js';
import { statusRoutes, type StatusSections } from './server/routes/status.js';
import { createSelfSignedCertificate, readTlsFiles, type TlsMaterial } from './server/tls.js';
import { createHostsManager, type HostsManager } from './hosts/manager.js';
import { createKubeClient, type KubeClient } from './kube/client.js';
import { createKubeEventSink } from './kube/events.js';
import { createServiceWatches } from './kube/services.js';
import { buildApiStatus, type WatchState } from './kube/watch.js';
import { removeLeftovers } from './trust/apply.js';
import { createTrustReconciler, type CertsDirTarget, type TrustReconciler } from './trust/reconciler.js';
import { createConfigMapSource } from './trust/sources/configmap.js';
import { createDirectorySource } from './trust/sources/directory.js';
import type { TrustSource } from './trust/sources/source.js';

/** A running agent: where it listens, and how to stop it. */
export interface AgentHandle {
  readonly url: string | undefined;
  readonly socket: string | undefined;
  readonly trust: TrustReconciler;
  readonly metrics: Metrics;
  stop(): Promise<void>;
}

export interface AgentDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly events?: EventSink;
}

/**
 * The composition root: builds every part from the configuration, starts
 * them, and stops them in order (watchers, in-flight reconcile, servers).
 * Process signals are the caller's (the CLI command).
 */
export async function startAgent(deps: AgentDeps): Promise<AgentHandle> {
  const { config, logger } = deps;
  const metrics = createMetrics();
  const targets = certsDirTargets(config);
  for (const t of targets) await removeLeftovers(t.dir);
  const kube = needsKubernetes(config) ? createKubeClient({ kubeconfig: config.kubeconfig }) : undefined;
  const events = deps.events ?? (kube === undefined ? noEvents : createKubeEventSink({ client: kube, nodeName: config.nodeName, pod: config.pod, logger, metrics }));
  const watches: { state(): WatchState }[] = [];
  const source = createTrustSource(config, kube, { logger, metrics, watches });
  const trust = createTrustReconciler({ source, targets, logger: logger.child({ component: 'trust' }), metrics, events });
  const hosts = createHosts(config, kube, { logger, metrics, events, watches });
  const sections: StatusSections = {
    trust: () => trust.status(),
    ...(hosts === undefined ? {} : { hosts: () => hosts.manager.status() }),
    ...(kube === undefined ? {} : { api: () => buildApiStatus(kube.server, watches) }),
  };
  const routes: FastifyPluginAsync[] = [
    healthRoutes({ isReady: trust.isReady }),
    statusRoutes({ node: config.nodeName, sections }),
    metricsRoutes({ registry: metrics.registry }),
  ];
  const servers = await startServers(config, logger, routes);
  await source.start(() => void trust.reconcile());
  await hosts?.start();
  await trust.reconcile();
  await hosts?.manager.reconcile();
  const resync = setInterval(() => {
    void trust.reconcile();
    void hosts?.manager.reconcile();
  }, config.trust.resyncSeconds * 1000);
  logger.info({ source: source.description, targets, url: servers.url, socket: servers.socket, node: config.nodeName }, 'node-ca agent started');
  return {
    url: servers.url,
    socket: servers.socket,
    trust,
    metrics,
    async stop() {
      clearInterval(resync);
      await source.stop();
      await hosts?.stop();
      await trust.idle();
      await Promise.all(servers.apps.map((a) => a.close()));
      logger.info('node-ca agent stopped');
    },
  };
}

export function certsDirTargets(config: Config): CertsDirTarget[] {
  const targets: CertsDirTarget[] = [];
  if (config.trust.containerdCertsDir !== '') targets.push({ dir: config.trust.containerdCertsDir, flavor: 'containerd' });
  if (config.trust.dockerCertsDir !== '') targets.push({ dir: config.trust.dockerCertsDir, flavor: 'docker' });
  return targets;
}

/** The API is needed for the ConfigMap source and for the hosts file. */
function needsKubernetes(config: Config): boolean {
  return config.trust.sourceDir === undefined || (config.hosts.file !== '' && config.hosts.services.length > 0);
}

interface EdgeDeps {
  logger: Logger;
  metrics: Metrics;
  watches: { state(): WatchState }[];
}

function createTrustSource(config: Config, kube: KubeClient | undefined, d: EdgeDeps): TrustSource {
  if (config.trust.sourceDir !== undefined) return createDirectorySource(config.trust.sourceDir);
  if (kube === undefined) throw new Error('trust.configMap needs the Kubernetes API');
  const source = createConfigMapSource({ client: kube, ...config.trust.configMap, logger: d.logger.child({ component: 'trust' }), metrics: d.metrics });
  d.watches.push(source);
  return source;
}

interface Hosts {
  manager: HostsManager;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function createHosts(config: Config, kube: KubeClient | undefined, d: EdgeDeps & { events: EventSink }): Hosts | undefined {
  if (kube === undefined || !needsKubernetes(config) || config.hosts.file === '' || config.hosts.services.length === 0) return undefined;
  const logger = d.logger.child({ component: 'hosts' });
  // Watches call onChange only after start(), once `manager` exists.
  const sources = createServiceWatches({ client: kube, services: config.hosts.services, onChange: () => void manager.reconcile(), logger, metrics: d.metrics });
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

interface Servers {
  apps: FastifyInstance[];
  url: string | undefined;
  socket: string | undefined;
}

async function startServers(config: Config, logger: Logger, routes: FastifyPluginAsync[]): Promise<Servers> {
  const out: Servers = { apps: [], url: undefined, socket: undefined };
  const { listen, socket, tls } = config.server;
  if (listen !== '') {
    const addr = splitListen(listen);
    if (addr === undefined) throw new Error(`server.listen "${listen}" is not host:port`);
    const material = await tlsMaterial(config);
    const app = await createApp({ logger, routes, ...(material === undefined ? {} : { https: { https: material } }) });
    const bound = await app.listen({ host: addr.host, port: addr.port });
    out.apps.push(app);
    out.url = tls.mode === 'disabled' ? bound : bound.replace(/^http:/, 'https:');
  }
  if (socket !== '') {
    await mkdir(path.dirname(socket), { recursive: true });
    await unlink(socket).catch((err: unknown) => {
      if (errnoCode(err) !== 'ENOENT') throw err;
    });
    const app = await createApp({ logger, routes });
    await app.listen({ path: socket });
    await chmod(socket, 0o600);
    out.apps.push(app);
    out.socket = socket;
  }
  return out;
}

async function tlsMaterial(config: Config): Promise<TlsMaterial | undefined> {
  const tls = config.server.tls;
  if (tls.mode === 'disabled') return undefined;
  if (tls.mode === 'files') return readTlsFiles(tls.certFile, tls.keyFile);
  return createSelfSignedCertificate([config.nodeName, config.nodeIP ?? '']);
}
