import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BackupPhase } from '../backup/job.js';
import { pullErrorCodes } from '../pull/classify.js';

/** The phases a backup ends in (the `phase` of `node_ca_backups_total`). */
const finalBackupPhases = ['Succeeded', 'Failed', 'Canceled'] as const satisfies readonly BackupPhase[];
/** Every `result` of `node_ca_pull_checks_total`: `ok` or a pull error code. */
const pullCheckResults = ['ok', ...pullErrorCodes] as const;

/**
 * Every metric the agent exports, created once in one registry (no global
 * default registry, so tests and in-process commands never collide).
 */
export function createMetrics() {
  const metrics = defineMetrics();
  // A labelled counter has no series until its first increment, and
  // `increase()` needs two samples: without a 0 from the start, the first
  // failed backup or pull check after a restart would never alert.
  for (const phase of finalBackupPhases) metrics.backupsTotal.inc({ phase }, 0);
  for (const result of pullCheckResults) metrics.pullChecksTotal.inc({ result }, 0);
  return metrics;
}

function defineMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    syncTotal: new Counter({ name: 'node_ca_sync_total', help: 'Trust reconciles by result.', labelNames: ['result'], registers: r }),
    syncDuration: new Histogram({
      name: 'node_ca_sync_duration_seconds',
      help: 'Duration of a trust reconcile.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: r,
    }),
    registryCertificates: new Gauge({
      name: 'node_ca_registry_certificates',
      help: 'Certificates in the trusted bundle, per registry host.',
      labelNames: ['host'],
      registers: r,
    }),
    certificateExpiry: new Gauge({
      name: 'node_ca_certificate_expiry_timestamp_seconds',
      help: 'notAfter of each trusted certificate, Unix seconds.',
      labelNames: ['host', 'fingerprint'],
      registers: r,
    }),
    invalidKeys: new Gauge({ name: 'node_ca_invalid_keys', help: 'Invalid keys in the CA source.', registers: r }),
    conflicts: new Gauge({
      name: 'node_ca_conflicts',
      help: 'Source hosts shadowed by directories node-ca does not own.',
      registers: r,
    }),
    hostsEntries: new Gauge({ name: 'node_ca_hosts_entries', help: 'Lines node-ca keeps in the hosts file.', registers: r }),
    watchRestarts: new Counter({
      name: 'node_ca_watch_restarts_total',
      help: 'Kubernetes watch restarts, per watched object.',
      labelNames: ['watch'],
      registers: r,
    }),
    apiErrors: new Counter({
      name: 'node_ca_api_errors_total',
      help: 'Kubernetes API errors seen by the agent.',
      labelNames: ['operation'],
      registers: r,
    }),
    backupBytes: new Counter({ name: 'node_ca_backup_bytes_total', help: 'Archive bytes written by backups.', registers: r }),
    backupsTotal: new Counter({ name: 'node_ca_backups_total', help: 'Backups by final phase.', labelNames: ['phase'], registers: r }),
    backupDuration: new Histogram({
      name: 'node_ca_backup_duration_seconds',
      help: 'Duration of finished backups.',
      buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200],
      registers: r,
    }),
    pullChecksTotal: new Counter({
      name: 'node_ca_pull_checks_total',
      help: 'Pull checks by result (ok or an error code).',
      labelNames: ['result'],
      registers: r,
    }),
    pullCheckDuration: new Histogram({
      name: 'node_ca_pull_check_duration_seconds',
      help: 'Duration of one image pull check.',
      buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
