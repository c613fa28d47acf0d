import { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  checkServerIdentity,
  connect,
  type DetailedPeerCertificate,
  type PeerCertificate,
} from 'node:tls';
import { errnoCode, errorMessage } from '../lib/errors.js';
import { daysUntil, EXPIRY_WARN_DAYS, fail, ok, warn, type CheckResult } from './check.js';

/** One registry to dial, with the ca.crt installed for it (the only trust anchor used). */
export interface TlsTarget {
  /** `host` or `host:port` (443 when no port). */
  readonly host: string;
  /** The installed ca.crt, or undefined when there is none. */
  readonly ca: string | undefined;
  readonly caPath: string;
  /** The source's bundle for this host (what node-ca installs), to tell a drifted ca.crt apart. */
  readonly sourceCa?: string;
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
      /** The chain the server sent, leaf first. */
      chain: readonly X509Certificate[];
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
  options: {
    now: Date;
    timeoutMs?: number;
    probe?: RegistryProbeCheck;
    /** The command that restarts node-ca on this node (it rewrites drifted files at start). */
    agentRestart?: string;
  },
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
  const results = [handshakeRow(t, dial, options.agentRestart)];
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

function handshakeRow(
  t: TlsTarget,
  dial: Extract<Dial, { kind: 'tls' }>,
  agentRestart: string | undefined,
): CheckResult {
  const at = dial.address;
  if (dial.authorized)
    return ok('tls.handshake', t.host, `handshake with ${at} trusted by ${t.caPath}`);
  const leaf = dial.chain[0];
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
  return untrusted(t, { error: dial.error, chain: dial.chain }, agentRestart);
}

function untrusted(
  t: TlsTarget,
  dial: { error: string | undefined; chain: readonly X509Certificate[] },
  agentRestart: string | undefined,
): CheckResult {
  const { error, chain } = dial;
  const leaf = chain[0];
  const issuer = leaf === undefined ? 'unknown' : leaf.issuer.replace(/\n/g, ', ');
  if (t.sourceCa !== undefined && t.sourceCa !== t.ca && chainSignedBy(chain, t.sourceCa))
    return fail(
      'tls.handshake',
      t.host,
      `server certificate not trusted by ${t.caPath} (${error ?? 'unverified'}), but the source bundle verifies it: the installed ca.crt differs from the source`,
      `node-ca rewrites ${t.caPath} from the source at its next resync; to do it now restart the agent${agentRestart === undefined ? ' on this node' : `: ${agentRestart}`} (see the trust.files rows)`,
    );
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
  if (notTls(dial.error))
    return fail(
      'tls.handshake',
      host,
      `${dial.address ?? name} answered, but not with TLS (${code}): it serves plain HTTP, or this is the wrong port`,
      `enable TLS on the registry, or fix the port in the registry host: curl -v http://${host}/v2/ shows what answers`,
    );
  return fail(
    'tls.handshake',
    host,
    `cannot connect to ${dial.address ?? name}: ${code}`,
    `check the registry is up and listening: curl -v https://${host}/v2/`,
  );
}

// OpenSSL's record-layer errors: the peer's first bytes are not a TLS record (an HTTP
// answer to the ClientHello, or another protocol). Node reports them as ERR_SSL_* codes,
// or as EPROTO carrying OpenSSL's text.
const notTlsCodes =
  /^ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LAYER_FAILURE|UNKNOWN_PROTOCOL|HTTP_REQUEST)$/;
const notTlsText =
  /wrong version number|packet length too long|record layer failure|unknown protocol|http request/i;

function notTls(err: unknown): boolean {
  const code = errnoCode(err) ?? '';
  return notTlsCodes.test(code) || (code === 'EPROTO' && notTlsText.test(errorMessage(err)));
}

/** The chain as sent (leaf first, each certificate issued by the next) reaches a CA of `caPem`. */
function chainSignedBy(chain: readonly X509Certificate[], caPem: string): boolean {
  for (const [i, cert] of chain.entries()) {
    if (signedByInstalled(cert, caPem)) return true;
    const next = chain[i + 1];
    if (next === undefined || !cert.checkIssued(next) || !cert.verify(next.publicKey)) return false;
  }
  return false;
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
      const peer = socket.getPeerCertificate(true);
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
        chain: peerChain(peer),
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

/** The certificates the server sent, leaf first (getPeerCertificate(true) links them by issuerCertificate). */
function peerChain(peer: DetailedPeerCertificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<DetailedPeerCertificate>();
  // A self-signed root is its own issuerCertificate; the last one may have none.
  let c: DetailedPeerCertificate | undefined = peer;
  while (c !== undefined && !seen.has(c) && Buffer.isBuffer(c.raw) && c.raw.length > 0) {
    seen.add(c);
    out.push(new X509Certificate(c.raw));
    c = issuerOf(c);
  }
  return out;
}

// Typed as always present; Node leaves it out when the chain ends without a root.
function issuerOf(c: DetailedPeerCertificate): DetailedPeerCertificate | undefined {
  return c.issuerCertificate;
}

function splitHost(host: string): { name: string; port: number } {
  const i = host.lastIndexOf(':');
  return i === -1
    ? { name: host, port: 443 }
    : { name: host.slice(0, i), port: Number(host.slice(i + 1)) };
}
