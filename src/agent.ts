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
import { trustRoutes } from './server/routes/trust.js';
import { readContainerdVersion } from './doctor/containerd-version.js';
import { unreachableServiceAddresses } from './doctor/hosts.js';
import { runDoctor } from './doctor/run.js';
import { createSelfSignedCertificate, readTlsFiles, type TlsMaterial } from './server/tls.js';
import { removeLeftovers } from './trust/apply.js';
import { createTrustReconciler, type CertsDirTarget, type TrustReconciler } from './trust/reconciler.js';
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
  const source = createTrustSource(config);
  const trust = createTrustReconciler({ source, targets, logger: logger.child({ component: 'trust' }), metrics, events: deps.events ?? noEvents });
  const sections: StatusSections = { trust: () => trust.status() };
  const routes: FastifyPluginAsync[] = [
    healthRoutes({ isReady: trust.isReady }),
    statusRoutes({ node: config.nodeName, sections }),
    metricsRoutes({ registry: metrics.registry }),
    trustRoutes({ report: () => runDoctor({ config, source, services: unreachableServiceAddresses('no Kubernetes client in this build'), containerdVersion: () => readContainerdVersion(config.pull.hostExec) }) }),
  ];
  const servers = await startServers(config, logger, routes);
  await source.start(() => void trust.reconcile());
  await trust.reconcile();
  const resync = setInterval(() => void trust.reconcile(), config.trust.resyncSeconds * 1000);
  logger.info({ source: source.description, targets, url: servers.url, socket: servers.socket, node: config.nodeName }, 'node-ca agent started');
  return {
    url: servers.url,
    socket: servers.socket,
    trust,
    metrics,
    async stop() {
      clearInterval(resync);
      await source.stop();
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

export function createTrustSource(config: Config): TrustSource {
  if (config.trust.sourceDir !== undefined) return createDirectorySource(config.trust.sourceDir);
  throw new Error('trust.configMap (API source) is not available yet; set trust.sourceDir');
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
