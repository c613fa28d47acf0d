/**
 * Image references, after distribution/reference (reference.go, regexp.go,
 * normalize.go): `[domain/]path[:tag][@digest]`, path components lowercase,
 * normalised the way `ParseNormalizedNamed` does (docker.io, library/, :latest).
 * Everything a shell could interpret is outside this grammar, but no shell
 * ever sees a reference anyway: it is one element of an argument array.
 */
export interface ImageReference {
  /** Registry host as written, `host[:port]` (docker.io when absent). */
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
const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const nameTotalLengthMax = 255;

/** Parses and normalises one reference; never throws. */
export function parseImageReference(input: string): ParsedReference {
  if (input.length === 0) return fail('empty reference');
  if (input !== input.trim()) return fail('surrounding whitespace');
  return parseParts(input);
}

function parseParts(input: string): ParsedReference {
  const at = input.indexOf('@');
  const nameTag = at === -1 ? input : input.slice(0, at);
  const digest = at === -1 ? undefined : input.slice(at + 1);
  if (digest !== undefined && !validDigest(digest)) return fail(`invalid digest "${digest}"`);
  const { name, tag } = splitTag(nameTag);
  if (tag !== undefined && !tagRe.test(tag)) return fail(`invalid tag "${tag}"`);
  if (name.length > nameTotalLengthMax) return fail(`repository name longer than ${nameTotalLengthMax} characters`);
  return checkName(name, tag, digest);
}

function checkName(name: string, tag: string | undefined, digest: string | undefined): ParsedReference {
  const { domain, path } = splitDomain(name);
  if (!domainRe.test(domain)) return fail(`invalid registry host "${domain}"`);
  if (path !== path.toLowerCase() && pathRe.test(path.toLowerCase())) return fail('repository name must be lowercase');
  if (!pathRe.test(path)) return fail(`invalid repository path "${path}"`);
  return { ok: true, ref: build(domain, path, tag, digest) };
}

function validDigest(digest: string): boolean {
  if (!digestRe.test(digest)) return false;
  return !digest.startsWith('sha256:') || /^sha256:[a-f0-9]{64}$/.test(digest);
}

// A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
function splitTag(nameTag: string): { name: string; tag: string | undefined } {
  const colon = nameTag.lastIndexOf(':');
  if (colon === -1 || colon < nameTag.lastIndexOf('/')) return { name: nameTag, tag: undefined };
  return { name: nameTag.slice(0, colon), tag: nameTag.slice(colon + 1) };
}

// normalize.go splitDockerDomain: the first component is a domain only if it has '.' or ':' or is localhost.
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    const path = slash === -1 ? `library/${name}` : name;
    return { domain: 'docker.io', path };
  }
  const domain = first === 'index.docker.io' ? 'docker.io' : first;
  const rest = name.slice(slash + 1);
  return { domain, path: domain === 'docker.io' && !rest.includes('/') ? `library/${rest}` : rest };
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
