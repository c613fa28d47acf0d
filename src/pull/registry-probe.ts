import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import { errnoCode, errorMessage } from '../lib/errors.js';
import type { PullErrorCode } from './classify.js';

/**
 * A second opinion without the runtime: `HEAD /v2/<path>/manifests/<ref>`
 * over HTTPS trusting ONLY the ca.crt node-ca wrote for that host (not the
 * system roots), so it answers "is the installed trust right?" apart from any
 * runtime or containerd configuration problem. The doctor reuses it.
 */
export interface RegistryProbeTarget {
  /** `host[:port]`, also the certs.d directory name. */
  readonly domain: string;
  /** Repository path, e.g. `acp/core`. */
  readonly path: string;
  /** Tag or digest. */
  readonly reference: string;
}

export interface RegistryProbeResult {
  /** TLS verified with the installed CA and the manifest exists, or credentials are needed. */
  readonly ok: boolean;
  /** The handshake completed with the installed CA and the certificate's names matched. */
  readonly tlsVerified: boolean;
  readonly status: number | undefined;
  /** `Docker-Content-Digest` of the manifest. */
  readonly digest: string | undefined;
  /** 401 with a `WWW-Authenticate` challenge: TLS and reachability fine, credentials needed. */
  readonly credentialsNeeded: boolean;
  readonly error: { code: PullErrorCode; message: string } | undefined;
}

export interface RegistryProbeOptions {
  /** The certs dir node-ca writes (`<dir>/<host[:port]>/ca.crt`). */
  readonly certsDir: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

const accept = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export async function probeRegistry(target: RegistryProbeTarget, options: RegistryProbeOptions): Promise<RegistryProbeResult> {
  const caFile = path.join(options.certsDir, target.domain, 'ca.crt');
  const ca = await readFile(caFile, 'utf8').catch(() => undefined);
  if (ca === undefined) return failed('X509_UNKNOWN_AUTHORITY', `node-ca has written no ca.crt for ${target.domain}`);
  const { hostname, port } = splitHostPort(target.domain);
  return new Promise<RegistryProbeResult>((resolve) => {
    const req = request(
      {
        method: 'HEAD',
        hostname,
        port,
        path: `/v2/${target.path}/manifests/${target.reference}`,
        headers: { accept, 'user-agent': 'node-ca' },
        ca,
        agent: false,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      (res) => {
        res.resume();
        settle(fromResponse(res.statusCode ?? 0, res.headers));
      },
    );
    // One deadline for the whole exchange (connect, handshake, answer). The `timeout` option
    // of https.request is an idle timeout: against a listener that accepts and never answers
    // TLS, a probe asked for 3000 ms returned after about 6 s.
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, options.timeoutMs);
    const settle = (result: RegistryProbeResult) => {
      clearTimeout(timer);
      resolve(result);
    };
    req.on('error', (err) => {
      settle(fromError(err));
    });
    req.end();
  });
}

function fromResponse(status: number, headers: Record<string, string | string[] | undefined>): RegistryProbeResult {
  const digest = typeof headers['docker-content-digest'] === 'string' ? headers['docker-content-digest'] : undefined;
  const base = { tlsVerified: true, status, digest, credentialsNeeded: false, error: undefined };
  if (status >= 200 && status < 300) return { ...base, ok: true };
  if (status === 401 && headers['www-authenticate'] !== undefined)
    return { ...base, ok: true, credentialsNeeded: true, error: { code: 'UNAUTHORIZED', message: 'registry answered 401: credentials needed' } };
  const code: PullErrorCode = status === 404 ? 'NOT_FOUND' : status === 401 || status === 403 ? 'UNAUTHORIZED' : 'OTHER';
  return { ...base, ok: false, error: { code, message: `registry answered HTTP ${status}` } };
}

const unknownAuthority = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

const codeByErrno: Record<string, PullErrorCode> = {
  ERR_TLS_CERT_ALTNAME_INVALID: 'X509_HOSTNAME_MISMATCH',
  ENOTFOUND: 'DNS',
  EAI_AGAIN: 'DNS',
  ECONNREFUSED: 'CONNECTION_REFUSED',
  ETIMEDOUT: 'TIMEOUT',
  ABORT_ERR: 'TIMEOUT',
};

function fromError(err: unknown): RegistryProbeResult {
  const errno = errnoCode(err) ?? '';
  const code = unknownAuthority.has(errno) ? 'X509_UNKNOWN_AUTHORITY' : (codeByErrno[errno] ?? 'OTHER');
  return failed(code, errorMessage(err));
}

function failed(code: PullErrorCode, message: string): RegistryProbeResult {
  return { ok: false, tlsVerified: false, status: undefined, digest: undefined, credentialsNeeded: false, error: { code, message } };
}

function splitHostPort(domain: string): { hostname: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(domain);
  const hostname = (m?.[1] ?? domain).replace(/^\[|\]$/g, '');
  return { hostname, port: m?.[2] === undefined ? 443 : Number(m[2]) };
}
