/**
 * Image references, after distribution/reference (reference.go, regexp.go,
 * normalize.go): `[domain/]path[:tag][@digest]`, path components lowercase,
 * normalised the way `ParseNormalizedNamed` does (docker.io, library/, :latest),
 * and the registry host lowercased. Only the digest algorithms go-digest
 * registers (sha256, sha384, sha512) are accepted: containerd refuses others.
 * Everything a shell could interpret is outside this grammar, but no shell
 * ever sees a reference anyway: it is one element of an argument array.
 */
export interface ImageReference {
  /**
   * Registry host, `host[:port]` (docker.io when absent), lowercased: DNS
   * names are case-insensitive, but containerd looks up `certs.d/<host>` by
   * the exact string (remotes/docker/config/hosts.go `hostPaths`), and node-ca
   * writes those directories in lowercase.
   */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `acp/core` or `library/alpine`. */
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
  /** The full normalised reference: `domain/path[:tag][@digest]` (`:latest` added when neither). */
  readonly normalized: string;
}

export type ParsedReference = { ok: true; ref: ImageReference } | { ok: false; reason: string };

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainRe = new RegExp(`^(?:${domainName}|${ipv6})(?::[0-9]+)?$`);
const pathRe = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const tagRe = /^[\w][\w.-]{0,127}$/;
// normalize.go ParseNormalizedNamed refuses a name that is exactly a 64-hex
// identifier (regexp.go `identifier`): "cannot specify 64-byte hexadecimal strings".
const identifierRe = /^[a-f0-9]{64}$/;
// reference.go NameTotalLengthMax, on the normalised `domain/path`: containerd's
// reference/docker Parse checks `len(matches[1])`, the whole name after
// ParseNormalizedNamed added the domain; distribution/reference v0.6 checks only
// the path, a looser rule, so a name within this limit passes both.
const nameTotalLengthMax = 255;
// go-digest algorithm.go: the algorithms registered by default (`algorithms`)
// and their encodings (`anchoredEncodedRegexps`: lowercase hex, fixed length).
// digest.go Validate answers ErrDigestUnsupported for any other algorithm, and
// reference.go Parse returns that error. (blake3 exists only as an opt-in module.)
const digestHexLength = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);

/** Parses and normalises one reference; never throws. */
export function parseImageReference(input: string): ParsedReference {
  if (input.length === 0) return fail('empty reference');
  if (input !== input.trim()) return fail('surrounding whitespace');
  if (identifierRe.test(input)) return fail('a 64-hex identifier cannot be a repository name');
  return parseParts(input);
}

function parseParts(input: string): ParsedReference {
  const at = input.indexOf('@');
  const nameTag = at === -1 ? input : input.slice(0, at);
  const digest = at === -1 ? undefined : input.slice(at + 1);
  const digestError = digest === undefined ? undefined : digestProblem(digest);
  if (digestError !== undefined) return fail(digestError);
  const { name, tag } = splitTag(nameTag);
  if (tag !== undefined && !tagRe.test(tag)) return fail(`invalid tag "${tag}"`);
  return checkName(name, tag, digest);
}

function checkName(name: string, tag: string | undefined, digest: string | undefined): ParsedReference {
  const { written, domain, path } = splitDomain(name);
  const domainError = domainProblem(written, domain);
  if (domainError !== undefined) return fail(domainError);
  if (path !== path.toLowerCase() && pathRe.test(path.toLowerCase())) return fail('repository name must be lowercase');
  if (!pathRe.test(path)) return fail(`invalid repository path "${path}"`);
  const length = domain.length + 1 + path.length;
  if (length > nameTotalLengthMax) return fail(`repository name longer than ${nameTotalLengthMax} characters once normalised (${length}: ${domain}/…)`);
  return { ok: true, ref: build(domain, path, tag, digest) };
}

function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  const algorithm = colon === -1 ? digest : digest.slice(0, colon);
  const hexLength = digestHexLength.get(algorithm);
  if (hexLength === undefined) return `invalid digest "${digest}": algorithm "${algorithm}" is not one of ${[...digestHexLength.keys()].join(', ')}`;
  if (!new RegExp(`^[a-f0-9]{${hexLength}}$`).test(digest.slice(colon + 1))) return `invalid digest "${digest}": ${algorithm} takes ${hexLength} lowercase hex digits`;
  return undefined;
}

function domainProblem(written: string, domain: string): string | undefined {
  if (!domainRe.test(written)) return `invalid registry host "${written}"`;
  // normalize.go splitDockerDomain takes a first component without '.' or ':' (and not
  // localhost) as a domain only because namespaces cannot hold capitals; lowercased, the
  // runtime would read it as a Docker Hub namespace, so the host must be written with a port.
  if (!/[.:]/.test(domain) && domain !== 'localhost')
    return `registry host "${written}" is a host only because of its capital letters; write it as "${domain}:<port>"`;
  return undefined;
}

// A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
function splitTag(nameTag: string): { name: string; tag: string | undefined } {
  const colon = nameTag.lastIndexOf(':');
  if (colon === -1 || colon < nameTag.lastIndexOf('/')) return { name: nameTag, tag: undefined };
  return { name: nameTag.slice(0, colon), tag: nameTag.slice(colon + 1) };
}

/**
 * normalize.go splitDockerDomain: the first component is a domain only if it has '.' or ':',
 * is localhost, or is not lowercase. The domain is then lowercased (node-ca's choice, see
 * `ImageReference.domain`) before the Docker Hub rules apply, so `Index.Docker.IO/alpine`
 * is `docker.io/library/alpine` as its lowercase spelling is.
 */
function splitDomain(name: string): { written: string; domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    const path = slash === -1 ? `library/${name}` : name;
    return { written: 'docker.io', domain: 'docker.io', path };
  }
  const lower = first.toLowerCase();
  const domain = lower === 'index.docker.io' ? 'docker.io' : lower;
  const rest = name.slice(slash + 1);
  return { written: first, domain, path: domain === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest };
}

function build(domain: string, path: string, tag: string | undefined, digest: string | undefined): ImageReference {
  const effectiveTag = tag ?? (digest === undefined ? 'latest' : undefined);
  const normalized = `${domain}/${path}${effectiveTag === undefined ? '' : `:${effectiveTag}`}${digest === undefined ? '' : `@${digest}`}`;
  return { domain, path, tag: effectiveTag, digest, normalized };
}

function fail(reason: string): ParsedReference {
  return { ok: false, reason };
}

/** `host[:port]` compared case-insensitively (DNS names are); the port must match exactly. */
export function isRegistryAllowed(domain: string, allowed: readonly string[]): boolean {
  const d = domain.toLowerCase();
  return allowed.some((a) => a.toLowerCase() === d);
}
