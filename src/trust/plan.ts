import type { CaBundle } from './bundle.js';
import { parseKey, type RegistryHost } from './keys.js';
import {
  CA_FILE,
  HOSTS_TOML,
  MARKER_FILE,
  parseMarker,
  renderHostsToml,
  renderMarker,
} from './render.js';

/** containerd dirs get hosts.toml; Docker-style dirs only ca.crt. */
export type CertsDirFlavor = 'containerd' | 'docker';

/** A registry the source wants on disk. */
export interface DesiredRegistry {
  readonly host: RegistryHost;
  readonly key: string;
  readonly bundle: CaBundle;
}

/** One entry of a certs dir as found on disk. */
export interface ObservedEntry {
  readonly name: string;
  readonly isDirectory: boolean;
  /** File contents of the names the agent manages; undefined when absent. */
  readonly files: Readonly<Record<string, string | undefined>>;
}

export interface FileWrite {
  readonly name: string;
  readonly content: string;
}

export type ReconcileAction =
  /** A new directory: staged complete (marker included), then renamed into place. */
  | { readonly type: 'create'; readonly host: RegistryHost; readonly files: readonly FileWrite[] }
  /** Files to rewrite in a directory we own, in this order (ca.crt first, marker last). */
  | { readonly type: 'update'; readonly host: RegistryHost; readonly files: readonly FileWrite[] }
  /** An owned directory whose key left the source: the files it wrote, then the marker and the directory. */
  | { readonly type: 'remove'; readonly host: RegistryHost; readonly written: readonly string[] }
  /** A directory we do not own is where a source host wants to be. */
  | { readonly type: 'conflict'; readonly host: RegistryHost; readonly reason: string };

export interface PlanInput {
  readonly flavor: CertsDirFlavor;
  readonly desired: readonly DesiredRegistry[];
  /** Hosts whose key is present but invalid: their last good files stay. */
  readonly keep: ReadonlySet<RegistryHost>;
  readonly observed: readonly ObservedEntry[];
  readonly now: Date;
}

/** The desired-vs-actual diff for one certs dir. Pure. */
export function planCertsDir(input: PlanInput): ReconcileAction[] {
  const byName = new Map(input.observed.map((e) => [e.name, e]));
  const wanted = new Set(input.desired.map((d) => d.host));
  const actions: ReconcileAction[] = [];
  for (const d of input.desired) {
    const action = planRegistry(input.flavor, d, byName.get(d.host), input.now);
    if (action !== undefined) actions.push(action);
  }
  for (const e of input.observed) {
    if (isOwnedEntry(e) && !wanted.has(e.name) && !input.keep.has(e.name))
      actions.push({ type: 'remove', host: e.name, written: writtenFiles(input.flavor) });
  }
  return actions;
}

/** A directory is the agent's exactly when it holds node-ca's marker for its own key; anything else is an administrator's. */
export function isOwnedEntry(e: ObservedEntry): boolean {
  return e.isDirectory && ownershipProblem(e.name, e.files[MARKER_FILE]) === undefined;
}

/**
 * Why the directory `name` is not the agent's, given its marker file's text;
 * undefined when it is. A `.node-ca` that is not node-ca's JSON, or that
 * names a key of another directory, was not written here by node-ca (a copy,
 * or an administrator's file), so it confers no ownership.
 */
export function ownershipProblem(name: string, markerText: string | undefined): string | undefined {
  if (markerText === undefined) return `directory has no ${MARKER_FILE} marker (administrator-owned)`;
  const marker = parseMarker(markerText);
  if (marker === undefined) return `its ${MARKER_FILE} is not node-ca's marker (JSON with key and sha256), so the directory is left alone as an administrator's`;
  const parsed = parseKey(marker.key);
  if (!parsed.ok || parsed.host !== name)
    return `its ${MARKER_FILE} marker is for key "${marker.key}", not this directory's, so the directory is left alone as an administrator's`;
  return undefined;
}

/** The files the agent writes besides the marker: containerd dirs get hosts.toml, Docker-style dirs only ca.crt. */
export function writtenFiles(flavor: CertsDirFlavor): string[] {
  return flavor === 'containerd' ? [CA_FILE, HOSTS_TOML] : [CA_FILE];
}

/** The files a registry's directory must hold, in write order. */
function desiredFiles(flavor: CertsDirFlavor, d: DesiredRegistry, now: Date): FileWrite[] {
  const files: FileWrite[] = [{ name: CA_FILE, content: d.bundle.pem }];
  if (flavor === 'containerd') files.push({ name: HOSTS_TOML, content: renderHostsToml(d.host) });
  const marker = renderMarker({ key: d.key, sha256: d.bundle.sha256, time: now.toISOString() });
  files.push({ name: MARKER_FILE, content: marker });
  return files;
}

function planRegistry(
  flavor: CertsDirFlavor,
  d: DesiredRegistry,
  entry: ObservedEntry | undefined,
  now: Date,
): ReconcileAction | undefined {
  const files = desiredFiles(flavor, d, now);
  if (entry === undefined) return { type: 'create', host: d.host, files };
  if (!entry.isDirectory)
    return { type: 'conflict', host: d.host, reason: 'a non-directory entry has this name' };
  const notOurs = ownershipProblem(entry.name, entry.files[MARKER_FILE]);
  if (notOurs !== undefined) return { type: 'conflict', host: d.host, reason: notOurs };
  const stale = files.filter((f) => !isCurrent(f, entry, d));
  return stale.length === 0 ? undefined : { type: 'update', host: d.host, files: stale };
}

function isCurrent(f: FileWrite, entry: ObservedEntry, d: DesiredRegistry): boolean {
  const actual = entry.files[f.name];
  if (f.name !== MARKER_FILE) return actual === f.content;
  // The marker's time changes every render; it is current when it names the
  // right key and ca.crt hash.
  const marker = actual === undefined ? undefined : parseMarker(actual);
  return marker?.key === d.key && marker.sha256 === d.bundle.sha256;
}
