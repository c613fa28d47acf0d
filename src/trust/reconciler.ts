import path from 'node:path';
import type { EventSink } from '../lib/events.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { createCoalescingRunner } from '../lib/serial.js';
import { applyActions, readCertsDir, type ActionOutcome } from './apply.js';
import { planDesiredState, type DesiredState } from './desired.js';
import { planCertsDir, type CertsDirFlavor } from './plan.js';
import type { TrustSource } from './sources/source.js';
import { buildTrustStatus, type TrustStatus } from './status.js';

export interface CertsDirTarget {
  readonly dir: string;
  readonly flavor: CertsDirFlavor;
}

export interface TrustReconcilerDeps {
  readonly source: TrustSource;
  readonly targets: readonly CertsDirTarget[];
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly events: EventSink;
  readonly now?: () => Date;
}

export interface Conflict {
  readonly certsDir: string;
  readonly host: string;
  readonly reason: string;
}

/** The result of the last reconcile, from which status and metrics are derived. */
export interface TrustSyncRecord {
  readonly time: Date;
  readonly revision: string;
  readonly desired: DesiredState;
  readonly conflicts: readonly Conflict[];
  readonly errors: readonly string[];
}

/**
 * Reads the whole desired state from the source and the whole actual state
 * from disk, plans each certs dir and applies the plan. Serialised and
 * coalesced; level-triggered, so a missed event or a restart is harmless.
 */
export function createTrustReconciler(deps: TrustReconcilerDeps) {
  const now = deps.now ?? (() => new Date());
  let last: TrustSyncRecord | undefined;
  let lastError: string | undefined;
  let ready = false;
  const reported = new Set<string>();

  async function reconcileOnce(): Promise<void> {
    const end = deps.metrics.syncDuration.startTimer();
    try {
      const snapshot = await deps.source.read();
      const desired = planDesiredState(snapshot.entries);
      const conflicts: Conflict[] = [];
      const errors: string[] = [];
      for (const target of deps.targets) {
        const outcomes = await reconcileTarget(target, desired);
        collect(target, outcomes, desired, { conflicts, errors });
      }
      last = { time: now(), revision: snapshot.revision, desired, conflicts, errors };
      lastError = errors[0];
      ready ||= errors.length === 0;
      deps.metrics.syncTotal.inc({ result: errors.length === 0 ? 'success' : 'error' });
      reportProblems(desired, conflicts);
      updateGauges(desired, conflicts);
    } catch (err) {
      lastError = String(err);
      deps.metrics.syncTotal.inc({ result: 'error' });
      deps.logger.error({ err, source: deps.source.description }, 'trust sync failed; files on disk left as they are');
    } finally {
      end();
    }
  }

  async function reconcileTarget(target: CertsDirTarget, desired: DesiredState): Promise<ActionOutcome[]> {
    const observed = await readCertsDir(target.dir);
    const keep = new Set(desired.invalid.flatMap((k) => (k.host === undefined ? [] : [k.host])));
    const actions = planCertsDir({ flavor: target.flavor, desired: desired.registries, keep, observed, now: now() });
    return applyActions(target.dir, actions);
  }

  function collect(
    target: CertsDirTarget,
    outcomes: ActionOutcome[],
    desired: DesiredState,
    into: { conflicts: Conflict[]; errors: string[] },
  ) {
    const { conflicts, errors } = into;
    for (const o of outcomes) {
      if (o.action.type === 'conflict') conflicts.push({ certsDir: target.dir, host: o.action.host, reason: o.action.reason });
      else if (o.conflict !== undefined) conflicts.push({ certsDir: target.dir, host: o.action.host, reason: o.conflict });
      else if (o.error !== undefined) {
        errors.push(o.error);
        deps.logger.error({ certsDir: target.dir, host: o.action.host, action: o.action.type }, o.error);
      } else logChange(target, o, desired);
    }
  }

  function logChange(target: CertsDirTarget, o: ActionOutcome, desired: DesiredState) {
    const files = 'files' in o.action ? o.action.files.map((f) => f.name) : undefined;
    const registry = desired.registries.find((r) => r.host === o.action.host);
    deps.logger.info(
      { certsDir: target.dir, host: o.action.host, action: o.action.type, files, fingerprints: fingerprintsOf(registry) },
      `${o.action.type} ${path.join(target.dir, o.action.host)}`,
    );
  }

  // Report a problem when it appears, not on every resync.
  function reportProblems(desired: DesiredState, conflicts: readonly Conflict[]) {
    const current = new Set<string>();
    for (const k of desired.invalid) {
      const id = `invalid|${k.key}|${k.reason}`;
      current.add(id);
      if (reported.has(id)) continue;
      deps.logger.warn({ key: k.key, reason: k.reason }, `invalid CA key "${k.key}"; its last good files are kept`);
      deps.events.warning('InvalidCAKey', `key "${k.key}": ${k.reason}`);
    }
    for (const c of conflicts) {
      const id = `conflict|${c.certsDir}|${c.host}`;
      current.add(id);
      if (reported.has(id)) continue;
      deps.logger.warn(c, `not touching ${path.join(c.certsDir, c.host)}: ${c.reason}`);
      deps.events.warning('OwnershipConflict', `${path.join(c.certsDir, c.host)}: ${c.reason}`);
    }
    reported.clear();
    for (const id of current) reported.add(id);
  }

  function updateGauges(desired: DesiredState, conflicts: readonly Conflict[]) {
    const m = deps.metrics;
    m.registryCertificates.reset();
    m.certificateExpiry.reset();
    for (const r of desired.registries) {
      m.registryCertificates.set({ host: r.host }, r.bundle.certificates.length);
      for (const c of r.bundle.certificates)
        m.certificateExpiry.set({ host: r.host, fingerprint: c.fingerprint }, c.notAfter.getTime() / 1000);
    }
    m.invalidKeys.set(desired.invalid.length);
    m.conflicts.set(conflicts.length);
  }

  const runner = createCoalescingRunner(reconcileOnce);

  return {
    /** Runs (or joins) a reconcile; resolves when one that saw this call's state has finished. */
    reconcile: () => runner.trigger(),
    idle: () => runner.idle(),
    isReady: () => ready,
    status: (): TrustStatus => buildTrustStatus({ source: deps.source.description, targets: deps.targets, last, lastError, ready, now: now() }),
  };
}

export type TrustReconciler = ReturnType<typeof createTrustReconciler>;

function fingerprintsOf(r: { bundle: { certificates: readonly { fingerprint: string }[] } } | undefined) {
  return r?.bundle.certificates.map((c) => c.fingerprint);
}
