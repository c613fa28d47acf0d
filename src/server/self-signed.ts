import { generateKeyPairSync } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import type { TlsMaterial } from './tls.js';

// A module of its own: node-forge (about 2 MiB of RSS) is loaded only when
// `tls.mode` is self-signed; `files` and `disabled` never need it.

/**
 * A self-signed serving certificate made at start (tls.mode: self-signed).
 * SANs: the node name, the node and pod IPs, localhost and 127.0.0.1, so a
 * caller that pins this certificate can verify the name it dialled.
 */
export function createSelfSignedCertificate(names: readonly (string | undefined)[], now = new Date()): TlsMaterial {
  // OpenSSL makes the key (milliseconds); forge's JS generator takes seconds on a busy node.
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const privateKey = forge.pki.privateKeyFromPem(pem);
  const keys = { privateKey, publicKey: forge.pki.setRsaPublicKey(privateKey.n, privateKey.e) };
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + 365 * 24 * 3600_000);
  const unique = selfSignedNames(names);
  const attrs = [{ name: 'commonName', value: unique[0] ?? 'node-ca' }, { name: 'organizationName', value: 'node-ca' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: unique.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { key: forge.pki.privateKeyToPem(keys.privateKey), cert: forge.pki.certificateToPem(cert) };
}

/** The SANs of the self-signed certificate: the given names (empty ones dropped), localhost, 127.0.0.1. */
export function selfSignedNames(names: readonly (string | undefined)[]): string[] {
  const given = names.filter((n): n is string => n !== undefined && n.trim() !== '').map((n) => n.trim());
  return [...new Set([...given, 'localhost', '127.0.0.1'])];
}
