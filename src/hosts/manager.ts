import type { EventSink } from '../lib/events.js';
import { errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { createCoalescingRunner } from '../lib/serial.js';
import { mergeHostsFile, parseManagedEntries, type ManagedEntry } from './hosts-file.js';
import {
  planServiceHosts,
  type ServiceHostsPlan,
  type ServiceRef,
  type ServiceShape,
} from './plan.js';
import { readHostsFile, writeHostsFile, type WriteMode } from './writer.js';

/** Where a Service's current state comes from (the API watch in the agent). */
export interface ServiceSource {
  readonly ref: ServiceRef;
  /** False until the Service has been listed once. */
  synced(): boolean;
  current(): ServiceShape | undefined;
}

export interface HostsManagerDeps {
  readonly file: string;
  readonly clusterDomain: string;
  readonly sources: readonly ServiceSource[];
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly events: EventSink;
  readonly now?: () => Date;
}

/** The `hosts` part of `/v1/status`. */
export interface HostsStatus {
  readonly file: string;
  readonly entries: readonly ManagedEntry[];
  readonly services: readonly {
    namespace: string;
    name: string;
    state: string;
    ips: readonly string[];
  }[];
  readonly lastSyncTime: string | null;
  readonly lastWrite: { time: string; mode: WriteMode } | null;
  readonly errors: readonly string[];
}

/**
 * Keeps the node-ca lines of the hosts file equal to the Services' ClusterIPs.
 * Level-triggered and coalesced: every run reads the file and every Service's
 * last known state, merges, and writes only when a byte differs.
 */
export function createHostsManager(deps: HostsManagerDeps) {
  const now = deps.now ?? (() => new Date());
  const log = deps.logger;
  let plans: ServiceHostsPlan[] = [];
  let entries: ManagedEntry[] = [];
  let lastSyncTime: string | null = null;
  let lastWrite: HostsStatus['lastWrite'] = null;
  let errors: string[] = [];
  let reported = new Set<string>();

  async function reconcileOnce(): Promise<void> {
    plans = deps.sources.map((s) =>
      planServiceHosts(s.ref, { synced: s.synced(), service: s.current() }, deps.clusterDomain),
    );
    try {
      const written = await applyPlans(plans);
      errors = [];
      lastSyncTime = now().toISOString();
      if (written !== undefined) lastWrite = { time: lastSyncTime, mode: written };
    } catch (err) {
      errors = [`${deps.file}: ${errorMessage(err)}`];
      log.error(
        { err, file: deps.file },
        'cannot update the hosts file; its content is left as it was',
      );
    }
    deps.metrics.hostsEntries.set(entries.length);
    report();
  }

  // Read-modify-write: the file is re-read right before writing, and the merge
  // redone if another tool changed it meanwhile, so its edit is not lost.
  async function applyPlans(current: readonly ServiceHostsPlan[]): Promise<WriteMode | undefined> {
    let before = await readHostsFile(deps.file);
    for (let attempt = 0; ; attempt += 1) {
      const after = mergeHostsFile(before, current);
      if (after === before) {
        entries = parseManagedEntries(before);
        return undefined;
      }
      const again = await readHostsFile(deps.file);
      if (again !== before && attempt < 3) {
        before = again;
        continue;
      }
      const mode = await writeHostsFile(deps.file, after);
      entries = parseManagedEntries(after);
      log.info({ file: deps.file, mode, entries }, 'hosts file updated');
      return mode;
    }
  }

  // Conditions are reported when they appear, not on every resync.
  function report() {
    const current = new Set<string>();
    for (const p of plans) {
      if (p.state !== 'headless' && p.state !== 'externalName') continue;
      const msg = `Service ${p.ref.namespace}/${p.ref.name} is ${p.state === 'headless' ? 'headless (no ClusterIP)' : 'of type ExternalName'}; no hosts line written`;
      current.add(msg);
      if (!reported.has(msg)) {
        log.warn({ service: p.ref, state: p.state }, msg);
        deps.events.warning('ServiceNotMappable', msg);
      }
    }
    for (const e of errors) {
      current.add(e);
      if (!reported.has(e)) deps.events.warning('HostsFileError', e);
    }
    reported = current;
  }

  const runner = createCoalescingRunner(reconcileOnce);
  return {
    reconcile: () => runner.trigger(),
    idle: () => runner.idle(),
    status: (): HostsStatus => ({
      file: deps.file,
      entries,
      services: plans.map((p) => ({
        namespace: p.ref.namespace,
        name: p.ref.name,
        state: p.state,
        ips: p.ips,
      })),
      lastSyncTime,
      lastWrite,
      errors,
    }),
  };
}

export type HostsManager = ReturnType<typeof createHostsManager>;
