/**
 * ConfigMap keys name registry hosts (SPEC "CA ConfigMap keys"): `host` or
 * `host..port`, because a ConfigMap key cannot hold `:`. The host is a
 * lowercase DNS name or an IPv4 literal. Anything else is invalid, and an
 * invalid name never becomes a path: this grammar is what keeps a key like
 * `../../etc` or `storage-ca-bundle.pem` out of the certs directories.
 */

/** A registry host as containerd names its hosts directory: `host` or `host:port`. */
export type RegistryHost = string;

export type KeyParse = { ok: true; host: RegistryHost } | { ok: false; reason: string };

const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const ipv4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const port = /^[1-9]\d{0,4}$/;
// File names that share a ConfigMap with host keys (OpenShift's
// `storage-ca-bundle.pem`, `service-ca.crt`) parse as DNS names; no TLD is
// spelled like these extensions, so they are refused rather than turned
// into a bogus hosts directory.
const fileExtension = /\.(?:pem|crt|cert|cer|der|key|p7b|p7c|pfx|p12)$/;

export function parseKey(key: string): KeyParse {
  const sep = key.indexOf('..');
  const name = sep === -1 ? key : key.slice(0, sep);
  const portText = sep === -1 ? undefined : key.slice(sep + 2);
  const nameProblem = hostNameProblem(name);
  if (nameProblem !== undefined) return { ok: false, reason: nameProblem };
  if (portText === undefined) return { ok: true, host: name };
  if (!port.test(portText) || Number(portText) > 65535)
    return { ok: false, reason: `"${portText}" after ".." is not a port (1-65535)` };
  return { ok: true, host: `${name}:${portText}` };
}

function hostNameProblem(name: string): string | undefined {
  if (name === '') return 'empty host name';
  if (ipv4.test(name)) return undefined;
  if (name.length > 253) return 'host name longer than 253 characters';
  if (name !== name.toLowerCase()) return 'host name must be lowercase';
  if (fileExtension.test(name)) return 'looks like a file name, not a registry host';
  // No top-level domain is all digits (RFC 3696 section 2): such a name is a
  // mistyped address, which resolvers would read as one (010.1.1.1 is 8.1.1.1 to glibc).
  if (/(?:^|\.)\d+$/.test(name)) return 'not a valid IPv4 address (0-255 without leading zeros), and a DNS name cannot end in an all-digit label';
  const bad = name.split('.').find((l) => !label.test(l));
  if (bad === undefined) return undefined;
  if (bad === '') return 'host name has an empty label (leading, trailing or double dot)';
  return `"${bad}" is not a DNS label ([a-z0-9-], 1-63 characters, no leading or trailing "-")`;
}
