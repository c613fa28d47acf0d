import type { RegistryHost } from './keys.js';

/** Files the agent writes in a host directory. */
export const CA_FILE = 'ca.crt';
export const HOSTS_TOML = 'hosts.toml';
export const MARKER_FILE = '.node-ca';

/**
 * containerd's hosts.toml for one registry. The explicit `[host."https://…"]`
 * table (not just `server` + top-level `ca`) is what containerd 1.6/1.7's
 * parser needs to apply the CA to the pull endpoint.
 */
export function renderHostsToml(host: RegistryHost): string {
  const url = `https://${host}`;
  return [
    '# Managed by node-ca. Changes are overwritten.',
    `server = "${url}"`,
    '',
    `[host."${url}"]`,
    '  capabilities = ["pull", "resolve"]',
    '  ca = "ca.crt"',
    '',
  ].join('\n');
}

/** The ownership marker: which key the directory is for and what ca.crt holds. */
export interface OwnershipMarker {
  readonly key: string;
  readonly sha256: string;
  readonly time: string;
}

export function renderMarker(marker: OwnershipMarker): string {
  return `${JSON.stringify({ key: marker.key, sha256: marker.sha256, time: marker.time })}\n`;
}

/** A marker file's contents, or undefined when it is not ours or not JSON. */
export function parseMarker(text: string): OwnershipMarker | undefined {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null) return undefined;
    const { key, sha256, time } = v as Record<string, unknown>;
    if (typeof key !== 'string' || typeof sha256 !== 'string') return undefined;
    return { key, sha256, time: typeof time === 'string' ? time : '' };
  } catch {
    return undefined;
  }
}
