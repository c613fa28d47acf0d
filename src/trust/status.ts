import path from 'node:path';
import type { CaCertificate } from './bundle.js';
import type { CertsDirTarget, Conflict, TrustSyncRecord } from './reconciler.js';
import { CA_FILE, HOSTS_TOML, MARKER_FILE } from './render.js';

/** The trust part of `GET /v1/status`. */
export interface TrustStatus {
  readonly source: string;
  readonly ready: boolean;
  readonly lastSyncTime: string | null;
  readonly revision: string | null;
  readonly lastError: string | null;
  readonly registries: readonly RegistryStatus[];
  readonly conflicts: readonly { certsDir: string; host: string; reason: string }[];
  readonly invalidKeys: readonly { key: string; host?: string; reason: string }[];
  readonly errors: readonly string[];
}

export interface RegistryStatus {
  readonly host: string;
  readonly key: string;
  readonly certificates: readonly {
    subject: string;
    issuer: string;
    notAfter: string;
    fingerprint: string;
    isCA: boolean;
    expired: boolean;
  }[];
  /** Files node-ca keeps for this host (not those in a conflicting directory). */
  readonly paths: readonly string[];
}

export function buildTrustStatus(input: {
  source: string;
  targets: readonly CertsDirTarget[];
  last: TrustSyncRecord | undefined;
  lastError: string | undefined;
  ready: boolean;
  now: Date;
}): TrustStatus {
  const { last } = input;
  return {
    source: input.source,
    ready: input.ready,
    lastSyncTime: last?.time.toISOString() ?? null,
    revision: last?.revision ?? null,
    lastError: input.lastError ?? null,
    ...syncFindings(last, input.targets, input.now),
  };
}

type SyncFindings = Pick<TrustStatus, 'registries' | 'conflicts' | 'invalidKeys' | 'errors'>;

/** What the last reconcile found; all empty before the first one. */
function syncFindings(last: TrustSyncRecord | undefined, targets: readonly CertsDirTarget[], now: Date): SyncFindings {
  if (last === undefined) return { registries: [], conflicts: [], invalidKeys: [], errors: [] };
  return {
    registries: last.desired.registries.map((r) => ({
      host: r.host,
      key: r.key,
      certificates: r.bundle.certificates.map((c) => certificateStatus(c, now)),
      paths: keptPaths(r.host, targets, last.conflicts),
    })),
    conflicts: last.conflicts,
    invalidKeys: last.desired.invalid,
    errors: last.errors,
  };
}

function certificateStatus(c: CaCertificate, now: Date): RegistryStatus['certificates'][number] {
  return {
    subject: c.subject,
    issuer: c.issuer,
    notAfter: c.notAfter.toISOString(),
    fingerprint: c.fingerprint,
    isCA: c.isCA,
    expired: c.notAfter.getTime() < now.getTime(),
  };
}

/** Files node-ca keeps for `host` (not those in a conflicting directory). */
function keptPaths(host: string, targets: readonly CertsDirTarget[], conflicts: readonly Conflict[]): string[] {
  return targets
    .filter((t) => !conflicts.some((c) => c.certsDir === t.dir && c.host === host))
    .flatMap((t) => filesFor(t).map((f) => path.join(t.dir, host, f)));
}

function filesFor(t: CertsDirTarget): string[] {
  return t.flavor === 'containerd' ? [CA_FILE, HOSTS_TOML, MARKER_FILE] : [CA_FILE, MARKER_FILE];
}
