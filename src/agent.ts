import type { FastifyPluginAsync } from 'fastify';
import { maxResyncSeconds, type Config } from './config/schema.js';
import { noEvents, type EventSink } from './lib/events.js';
import { createHeapTrimmer, type HeapTrimmer } from './lib/heap.js';
import type { Logger } from './lib/logger.js';
import { createMetrics, type Metrics } from './lib/metrics.js';
import { createBackupService } from './backup/service.js';
import { backupRoutes } from './server/routes/backups.js';
import { healthRoutes } from './server/routes/health.js';
import { metricsRoutes } from './server/routes/metrics.js';
import { pullCheckRoutes } from './server/routes/pull-checks.js';
import { createPullChecker } from './pull/checker.js';
import { createCommandRunner } from './pull/run-command.js';
import { statusRoutes, type StatusSections } from './server/routes/status.js';
import type { AccessReviewer } from './server/auth.js';
import { startServers } from './server/start.js';
import { trustRoutes } from './server/routes/trust.js';
import { removeLeftovers } from './trust/apply.js';
import { createTrustReconciler, type CertsDirTarget, type TrustReconciler } from './trust/reconciler.js';
import { createDirectorySource } from './trust/sources/directory.js';
import type { TrustSource } from './trust/sources/source.js';
import type { Hosts, KubeWiring } from './agent-kube.js';
import type { HostsStatus } from './hosts/manager.js';

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
  /** PATH for runtime commands (pull checks); default the usual system dirs. */
  readonly commandPath?: string;
}

/**
 * The composition root: builds every part from the configuration, starts
 * them, and stops them in order (watchers, in-flight reconcile, servers).
 * Process signals are the caller's (the CLI command).
 */
export async function startAgent(deps: AgentDeps): Promise<AgentHandle> {
  const { config, logger } = deps;
  const metrics = createMetrics();
  const shutdown = new AbortController();
  const targets = certsDirTargets(config);
  for (const t of targets) await removeLeftovers(t.dir);
  const kube = await wireKubernetesWhenNeeded(deps, metrics);
  const events = kube?.events ?? deps.events ?? noEvents;
  const source = createTrustSource(config, kube);
  const trust = createTrustReconciler({ source, targets, logger: logger.child({ component: 'trust' }), metrics, events });
  const hosts = kube?.hosts;
  const sections = statusSections(trust, kube);
  const heap = createHeapTrimmer({ quietMs: heapQuietMs, busyEveryMs: heapBusyEveryMs });
  const backups = await createBackupService({
    config,
    logger: logger.child({ component: 'backup' }),
    metrics,
    onJobEnd: () => {
      heap.poke();
    },
  });
  const routes: FastifyPluginAsync[] = [
    healthRoutes({ isReady: trust.isReady }),
    statusRoutes({ node: config.nodeName, sections }),
    metricsRoutes({ registry: metrics.registry }),
    pullCheckRoutes({ checker: createAgentPullChecker(deps, metrics, shutdown.signal), allowedRegistries: () => allowedRegistries(config, trust), shutdown: shutdown.signal }),
    backupRoutes({ backups }),
    trustRoutes({ report: doctorReport(config, source, kube) }),
  ];
  const servers = await startServers({ config, logger, routes, reviewer: deps.reviewer ?? kube?.reviewer });
  const resync = await startReconciling({ source, trust, hosts, heap, resyncSeconds: config.trust.resyncSeconds });
  logger.info({ source: source.description, targets, url: servers.url, socket: servers.socket, node: config.nodeName }, 'node-ca agent started');
  return {
    url: servers.url,
    socket: servers.socket,
    trust,
    metrics,
    async stop() {
      clearInterval(resync);
      heap.stop();
      shutdown.abort();
      await source.stop();
      await hosts?.stop();
      await trust.idle();
      await backups.stop();
      await servers.stop();
      logger.info('node-ca agent stopped');
    },
  };
}

/** Quiet time after the last CA change or resync before the heap is trimmed (lib/heap.ts). */
const heapQuietMs = 5000;
/** During a burst of CA changes, the heap is trimmed at most this often. */
const heapBusyEveryMs = 2000;

export function certsDirTargets(config: Config): CertsDirTarget[] {
  const targets: CertsDirTarget[] = [];
  if (config.trust.containerdCertsDir !== '') targets.push({ dir: config.trust.containerdCertsDir, flavor: 'containerd' });
  if (config.trust.dockerCertsDir !== '') targets.push({ dir: config.trust.dockerCertsDir, flavor: 'docker' });
  return targets;
}

// Loaded only when needed: @kubernetes/client-node alone costs about 70 MiB of RSS.
async function wireKubernetesWhenNeeded(deps: AgentDeps, metrics: Metrics): Promise<KubeWiring | undefined> {
  if (!needsKubernetes(deps.config)) return undefined;
  const { config, logger } = deps;
  return (await import('./agent-kube.js')).wireKubernetes(config, { logger, metrics, ...(deps.events === undefined ? {} : { events: deps.events }) });
}

/**
 * `/v1/status` sections. `hosts` is always there (SPEC): without a hosts file
 * to keep, the same fields as a running one, all empty. `api` only when the API is used.
 */
export function statusSections(trust: TrustReconciler, kube: KubeWiring | undefined): StatusSections {
  const hosts = kube?.hosts;
  const hostsDisabled: HostsStatus = { file: '', entries: [], services: [], lastSyncTime: null, lastWrite: null, errors: [] };
  return {
    trust: () => trust.status(),
    hosts: hosts === undefined ? () => hostsDisabled : () => hosts.manager.status(),
    ...(kube === undefined ? {} : { api: () => kube.apiStatus() }),
  };
}

interface ReconcileWiring {
  readonly source: TrustSource;
  readonly trust: TrustReconciler;
  readonly hosts: Hosts | undefined;
  readonly heap: HeapTrimmer;
  readonly resyncSeconds: number;
}

/** Starts the watches, reconciles trust then hosts once, trims the start-up garbage, and returns the resync timer. */
async function startReconciling({ source, trust, hosts, heap, resyncSeconds }: ReconcileWiring): Promise<NodeJS.Timeout> {
  await source.start(() => {
    void trust.reconcile();
    heap.poke();
  });
  // Trust first: a directory source needs no API, and a stalled API server (each
  // request abandoned after 30 s) must not hold back the first sync and readiness.
  await trust.reconcile();
  await hosts?.start();
  await hosts?.manager.reconcile();
  heap.trim();
  // The schema refuses more; a Config built in code gets the same bound, never Node's 1 ms fallback.
  return setInterval(() => {
    void trust.reconcile();
    void hosts?.manager.reconcile();
    heap.poke();
  }, Math.min(resyncSeconds, maxResyncSeconds) * 1000);
}

function createAgentPullChecker(deps: AgentDeps, metrics: Metrics, signal: AbortSignal) {
  const { config } = deps;
  const certsDir = config.trust.containerdCertsDir || config.trust.dockerCertsDir || undefined;
  return createPullChecker({
    settings: config.pull,
    runtime: config.pull.runtime,
    run: createCommandRunner({ path: deps.commandPath }),
    certsDir,
    metrics,
    logger: deps.logger.child({ component: 'pull' }),
    shutdown: signal,
  });
}

function allowedRegistries(config: Config, trust: TrustReconciler): readonly string[] {
  if (config.pull.allowedRegistries.length > 0) return config.pull.allowedRegistries;
  return trust.status().registries.map((r) => r.host);
}

/** The API is needed for the ConfigMap source, for the hosts file, and for `auth.mode: kubernetes`. */
function needsKubernetes(config: Config): boolean {
  const { server } = config;
  return (
    config.trust.sourceDir === undefined ||
    (config.hosts.file !== '' && config.hosts.services.length > 0) ||
    (server.listen !== '' && server.auth.mode === 'kubernetes')
  );
}

function createTrustSource(config: Config, kube: KubeWiring | undefined): TrustSource {
  if (config.trust.sourceDir !== undefined) return createDirectorySource(config.trust.sourceDir);
  if (kube?.source === undefined) throw new Error('trust.configMap needs the Kubernetes API');
  return kube.source;
}

/** `GET /v1/trust`: doctor is loaded on the first request, not at start. */
function doctorReport(config: Config, source: TrustSource, kube: KubeWiring | undefined) {
  return async () => {
    const { createDoctorRunner } = await import('./doctor/wiring.js');
    return createDoctorRunner({ config, source, kube: kube?.client })();
  };
}
