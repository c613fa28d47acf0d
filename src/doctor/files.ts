import { sha256Hex } from '../trust/bundle.js';
import type { InvalidKey } from '../trust/desired.js';
import type { DesiredRegistry, ObservedEntry } from '../trust/plan.js';
import { CA_FILE, HOSTS_TOML, MARKER_FILE, parseMarker, renderHostsToml } from '../trust/render.js';
import type { CertsDirTarget } from '../trust/reconciler.js';
import { fail, ok, warn, type CheckResult } from './check.js';

/** One certs dir as doctor found it; `observed` undefined when the directory does not exist. */
export interface ObservedCertsDir extends CertsDirTarget {
  readonly observed: readonly ObservedEntry[] | undefined;
}

export interface FilesInput {
  readonly registries: readonly DesiredRegistry[];
  readonly invalid: readonly InvalidKey[];
  readonly dirs: readonly ObservedCertsDir[];
  /** Where the source is, for remedies: `kubectl -n ns edit configmap name` or a directory. */
  readonly sourceHint: string;
  /** This node's name, for the restart command in remedies. */
  readonly node: string;
  /** The agent pods' namespace (`agentNamespace`), for the restart command in remedies. */
  readonly agentNamespace: string;
}

/**
 * The namespace of node-ca's own pods: `POD_NAMESPACE` when doctor runs in
 * the agent pod, else the CA ConfigMap's (the manifests put both in one namespace).
 */
export function agentNamespace(config: {
  pod?: { readonly namespace: string } | undefined;
  trust: { readonly configMap: { readonly namespace: string } };
}): string {
  return config.pod?.namespace ?? config.trust.configMap.namespace;
}

/** Restarts node-ca's pod on `node` (in `namespace`): it rewrites every drifted file at start. */
export function agentRestart(namespace: string, node: string): string {
  return `kubectl -n ${namespace} delete pod -l app.kubernetes.io/name=node-ca --field-selector spec.nodeName=${node}`;
}

/** node-ca rewrites drifted files on its next resync; a pod restart does it now. */
function agentFix(namespace: string, node: string): string {
  return `let node-ca rewrite its files: ${agentRestart(namespace, node)}`;
}

/**
 * Files vs source: every valid source host has, in every enabled certs dir,
 * the source's ca.crt bytes, hosts.toml as node-ca renders it (containerd
 * dir) and a marker that agrees with ca.crt; invalid keys and administrator
 * directories in the way are named. The Docker dir's rows use `docker.certs-dir`.
 */
export function checkTrustFiles(input: FilesInput): CheckResult[] {
  const results: CheckResult[] = input.invalid.map((k) =>
    fail(
      'trust.invalid-key',
      k.key,
      `invalid source key: ${k.reason}${k.host === undefined ? '' : `; the last good files of ${k.host} are kept`}`,
      `fix key "${k.key}": ${input.sourceHint}`,
    ),
  );
  for (const dir of input.dirs)
    results.push(...checkDir(dir, input.registries, agentFix(input.agentNamespace, input.node)));
  return results;
}

function checkDir(
  dir: ObservedCertsDir,
  registries: readonly DesiredRegistry[],
  fix: string,
): CheckResult[] {
  const filesId = dir.flavor === 'docker' ? 'docker.certs-dir' : 'trust.files';
  if (dir.observed === undefined)
    return [
      fail(filesId, dir.dir, 'certs dir does not exist: the agent has never written it here', fix),
    ];
  const byName = new Map(dir.observed.map((e) => [e.name, e]));
  return registries.flatMap((r) => checkHost(dir, r, byName.get(r.host), { filesId, fix }));
}

function checkHost(
  dir: ObservedCertsDir,
  r: DesiredRegistry,
  entry: ObservedEntry | undefined,
  at: { filesId: string; fix: string },
): CheckResult[] {
  const { filesId, fix } = at;
  const subject = `${dir.dir}/${r.host}`;
  if (entry === undefined)
    return [fail(filesId, subject, `missing: source key "${r.key}" has no directory here`, fix)];
  if (!entry.isDirectory)
    return [
      fail(
        'trust.conflict',
        subject,
        'a file, not a directory, holds this registry name',
        `move it away: mv ${subject} ${subject}.bak`,
      ),
    ];
  const results = skipVerify(subject, entry.files[HOSTS_TOML]);
  if (entry.files[MARKER_FILE] === undefined) {
    results.unshift(
      fail(
        'trust.conflict',
        subject,
        `administrator directory (no ${MARKER_FILE} marker) shadows the source host; node-ca leaves it alone`,
        `if it is not needed: mv ${subject} /root/${r.host}.certs.bak (node-ca then writes its own)`,
      ),
    );
    return results;
  }
  return [...compareOwned(dir, r, entry, { subject, filesId, fix }), ...results];
}

function compareOwned(
  dir: ObservedCertsDir,
  r: DesiredRegistry,
  entry: ObservedEntry,
  at: { subject: string; filesId: string; fix: string },
): CheckResult[] {
  const { subject, filesId, fix } = at;
  const ca = entry.files[CA_FILE];
  const problems: string[] = [];
  if (ca === undefined) problems.push(`${CA_FILE} missing`);
  else if (ca !== r.bundle.pem) problems.push(`${CA_FILE} differs from the source bundle`);
  if (dir.flavor === 'containerd' && entry.files[HOSTS_TOML] !== renderHostsToml(r.host))
    problems.push(
      entry.files[HOSTS_TOML] === undefined
        ? `${HOSTS_TOML} missing`
        : `${HOSTS_TOML} differs from what node-ca renders`,
    );
  const results: CheckResult[] = [
    problems.length > 0
      ? fail(filesId, subject, problems.join('; '), fix)
      : ok(
          filesId,
          subject,
          dir.flavor === 'containerd'
            ? `${CA_FILE} and ${HOSTS_TOML} match the source`
            : `${CA_FILE} matches the source`,
        ),
  ];
  results.push(checkMarker({ subject, fix }, entry.files[MARKER_FILE] ?? '', ca, r.key));
  return results;
}

function checkMarker(
  at: { subject: string; fix: string },
  text: string,
  ca: string | undefined,
  key: string,
): CheckResult {
  const { subject, fix } = at;
  const marker = parseMarker(text);
  const where = `${subject}/${MARKER_FILE}`;
  if (marker === undefined) return fail('trust.marker', where, 'marker is not node-ca JSON', fix);
  if (marker.key !== key)
    return fail(
      'trust.marker',
      where,
      `marker names key "${marker.key}", the source has "${key}"`,
      fix,
    );
  const actual = ca === undefined ? 'none' : sha256Hex(ca);
  if (marker.sha256 !== actual)
    return fail(
      'trust.marker',
      where,
      `marker sha256 ${marker.sha256.slice(0, 12)}… disagrees with ${CA_FILE} (${actual.slice(0, 12)}…): edited by hand?`,
      fix,
    );
  return ok(
    'trust.marker',
    where,
    `marker agrees with ${CA_FILE} (sha256 ${actual.slice(0, 12)}…)`,
  );
}

/** `skip_verify = true` anywhere in a source host's hosts.toml turns TLS verification off. */
function skipVerify(subject: string, hostsToml: string | undefined): CheckResult[] {
  if (hostsToml === undefined || !/^\s*skip_verify\s*=\s*true\b/m.test(hostsToml)) return [];
  return [
    warn(
      'trust.skip-verify',
      `${subject}/${HOSTS_TOML}`,
      "skip_verify = true: containerd does not verify this registry's certificate at all",
      `remove the skip_verify line from ${subject}/${HOSTS_TOML}`,
    ),
  ];
}
