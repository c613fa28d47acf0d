import type { FastifyPluginAsync } from 'fastify';
import type { Config } from './config/schema.js';
import { noEvents, type EventSink } from './lib/events.js';
import type { Logger } from './lib/logger.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { healthRoutes } from './server/routes/health.js';
import { metricsRoutes } from './server/routes/metrics.js';
import { statusRoutes, type StatusSections } from './server/routes/status.js';
import type { AccessReviewer } from './server/auth.js';
import { startServers } from './server/start.js';
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
  /** TokenReview/SubjectAccessReview for `server.auth.mode: kubernetes`. */
  readonly reviewer?: AccessReviewer;
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
  ];
  const servers = await startServers({ config, logger, routes, reviewer: deps.reviewer });
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
      await servers.stop();
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

function createTrustSource(config: Config): TrustSource {
  if (config.trust.sourceDir !== undefined) return createDirectorySource(config.trust.sourceDir);
  throw new Error('trust.configMap (API source) is not available yet; set trust.sourceDir');
}
