import { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { errnoCode, errorMessage } from '../lib/errors.js';
import { daysUntil, EXPIRY_WARN_DAYS, fail, ok, warn, type CheckResult } from './check.js';

/** One registry to dial, with the ca.crt installed for it (the only trust anchor used). */
export interface TlsTarget {
  /** `host` or `host:port` (443 when no port). */
  readonly host: string;
  /** The installed ca.crt, or undefined when there is none. */
  readonly ca: string | undefined;
  readonly caPath: string;
}

/** The registry probe of the pull checks (`/v2/` answers), run after a trusted handshake. */
export type RegistryProbeCheck = (target: { host: string; ca: string }) => Promise<CheckResult>;

type Dial =
  | { kind: 'dns' | 'connect'; address?: string; error: unknown }
  | {
      kind: 'tls';
      address: string;
      authorized: boolean;
      error: string | undefined;
      peer: PeerCertificate | undefined;
    };

// Errors that say nothing about who signed the certificate, only when it is valid.
const timeOnly = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/**
 * TLS to a registry as containerd will do it: the name resolved by the node's
 * own resolver (getaddrinfo, so /etc/hosts counts), only the installed ca.crt
 * trusted. The handshake, the names and the server certificate's expiry are
 * separate rows so a person sees which one is wrong.
 */
export async function checkRegistryTls(
  t: TlsTarget,
  options: { now: Date; timeoutMs?: number; probe?: RegistryProbeCheck },
): Promise<CheckResult[]> {
  const { name, port } = splitHost(t.host);
  if (t.ca === undefined)
    return [
      fail(
        'tls.handshake',
        t.host,
        `no installed ${t.caPath} to trust`,
        'see the trust.files rows: node-ca has not installed this CA',
      ),
    ];
  const dial = await dialTls(name, port, t.ca, options.timeoutMs ?? 5000);
  if (dial.kind !== 'tls') return [dialFailure(t.host, name, dial)];
  const results = [handshakeRow(t, dial)];
  const peer = dial.peer;
  if (peer === undefined || peer.raw.length === 0) return results;
  const identity = checkServerIdentity(name, peer);
  results.push(
    identity === undefined
      ? ok('tls.names', t.host, `server certificate covers ${name}`)
      : fail(
          'tls.names',
          t.host,
          `server certificate does not cover ${name}; it names ${peer.subjectaltname ?? `CN=${String(peer.subject.CN)}`}`,
          `reissue the registry certificate with subjectAltName DNS:${name}, or use one of its names as the registry host`,
        ),
  );
  results.push(expiryRow(t.host, new X509Certificate(peer.raw), options.now));
  const trusted = results.every((r) => r.status !== 'fail');
  if (trusted && options.probe !== undefined)
    results.push(await options.probe({ host: t.host, ca: t.ca }));
  return results;
}

function handshakeRow(t: TlsTarget, dial: Extract<Dial, { kind: 'tls' }>): CheckResult {
  const at = dial.address;
  if (dial.authorized)
    return ok('tls.handshake', t.host, `handshake with ${at} trusted by ${t.caPath}`);
  const leaf = dial.peer === undefined ? undefined : new X509Certificate(dial.peer.raw);
  if (
    dial.error !== undefined &&
    timeOnly.has(dial.error) &&
    leaf !== undefined &&
    signedByInstalled(leaf, t.ca ?? '')
  )
    return ok(
      'tls.handshake',
      t.host,
      `handshake with ${at}: chain signed by ${t.caPath} (validity: see tls.expiry)`,
    );
  return untrusted(t, dial.error, leaf);
}

function untrusted(
  t: TlsTarget,
  error: string | undefined,
  leaf: X509Certificate | undefined,
): CheckResult {
  const issuer = leaf === undefined ? 'unknown' : leaf.issuer.replace(/\n/g, ', ');
  return fail(
    'tls.handshake',
    t.host,
    `server certificate not trusted by ${t.caPath} (${error ?? 'unverified'}); it was issued by "${issuer}"`,
    `put the CA that issued the registry certificate into the CA ConfigMap; see it with: openssl s_client -connect ${t.host.includes(':') ? t.host : `${t.host}:443`} -showcerts`,
  );
}

function expiryRow(host: string, cert: X509Certificate, now: Date): CheckResult {
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  const days = daysUntil(notAfter, now);
  const renew =
    'renew the registry server certificate (the registry serves it; node-ca only installs the CA)';
  if (now < notBefore)
    return fail(
      'tls.expiry',
      host,
      `server certificate not valid before ${notBefore.toISOString()}`,
      `${renew}, or fix the node clock`,
    );
  if (days < 0)
    return fail('tls.expiry', host, `server certificate expired ${notAfter.toISOString()}`, renew);
  if (days < EXPIRY_WARN_DAYS)
    return warn(
      'tls.expiry',
      host,
      `server certificate expires in ${Math.floor(days)} days (${notAfter.toISOString()})`,
      renew,
    );
  return ok('tls.expiry', host, `server certificate valid until ${notAfter.toISOString()}`);
}

function dialFailure(
  host: string,
  name: string,
  dial: Extract<Dial, { kind: 'dns' | 'connect' }>,
): CheckResult {
  const code = errnoCode(dial.error) ?? errorMessage(dial.error);
  if (dial.kind === 'dns')
    return fail(
      'tls.handshake',
      host,
      `cannot resolve ${name} with the node resolver (/etc/hosts, then DNS): ${code}`,
      `getent hosts ${name}; see the hosts.* rows`,
    );
  return fail(
    'tls.handshake',
    host,
    `cannot connect to ${dial.address ?? name}: ${code}`,
    `check the registry is up and listening: curl -v https://${host}/v2/`,
  );
}

function signedByInstalled(leaf: X509Certificate, caPem: string): boolean {
  const blocks = caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.some((pem) => {
    try {
      const ca = new X509Certificate(pem);
      return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

async function dialTls(name: string, port: number, ca: string, timeoutMs: number): Promise<Dial> {
  let address: string;
  try {
    address = (await lookup(name)).address;
  } catch (error) {
    return { kind: 'dns', error };
  }
  return new Promise<Dial>((resolve) => {
    // Names are checked on their own row (tls.names), so `authorized` speaks only of the chain.
    const socket = connect({
      host: address,
      port,
      ca,
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
      ...(isIP(name) === 0 ? { servername: name } : {}),
      timeout: timeoutMs,
    });
    const where = `${address}:${port}`;
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(false);
      const error = socket.authorizationError as unknown;
      resolve({
        kind: 'tls',
        address: where,
        authorized: socket.authorized,
        error:
          error === null || error === undefined
            ? undefined
            : (errnoCode(error) ?? errorMessage(error)),
        peer: Object.keys(peer).length === 0 ? undefined : peer,
      });
      socket.destroy();
    });
    socket.once('timeout', () => {
      resolve({
        kind: 'connect',
        address: where,
        error: new Error(`no TLS handshake within ${timeoutMs} ms`),
      });
      socket.destroy();
    });
    socket.once('error', (error) => {
      resolve({ kind: 'connect', address: where, error });
    });
  });
}

function splitHost(host: string): { name: string; port: number } {
  const i = host.lastIndexOf(':');
  return i === -1
    ? { name: host, port: 443 }
    : { name: host.slice(0, i), port: Number(host.slice(i + 1)) };
}
