import { generateKeyPairSync } from 'node:crypto';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { ConfigError, errorMessage } from '../lib/errors.js';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
}

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

/**
 * Reads `tls.mode: files` and checks the pair before anyone serves it: both
 * readable, a PEM certificate, a PEM private key, and the key belonging to
 * the certificate. A mismatched pair would otherwise fail only at the first
 * handshake, far from its cause. The message names the config key.
 */
export async function loadTlsFiles(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const cert = await readOne('server.tls.certFile', certFile);
  const key = await readOne('server.tls.keyFile', keyFile);
  let x509: X509Certificate;
  let keyObject: KeyObject;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new ConfigError(`server.tls.certFile: ${certFile} holds no PEM certificate (${errorMessage(err)})`);
  }
  try {
    keyObject = createPrivateKey(key);
  } catch (err) {
    throw new ConfigError(`server.tls.keyFile: ${keyFile} holds no PEM private key (${errorMessage(err)})`);
  }
  if (!x509.checkPrivateKey(keyObject))
    throw new ConfigError(`server.tls.keyFile: ${keyFile} is not the private key of the certificate in ${certFile}`);
  return { cert, key };
}

/** The SHA-256 fingerprint of the first certificate of a PEM, as `AB:CD:...`. */
export function certificateFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

async function readOne(configKey: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${configKey}: cannot read ${file}: ${errorMessage(err)}`);
  }
}
