import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
}

/**
 * A self-signed serving certificate made at start (tls.mode: self-signed).
 * SANs: the node name, the node and pod IPs, localhost and 127.0.0.1, so a
 * caller that pins this certificate can verify the name it dialled.
 */
export function createSelfSignedCertificate(names: readonly string[], now = new Date()): TlsMaterial {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + 365 * 24 * 3600_000);
  const attrs = [{ name: 'commonName', value: names[0] ?? 'node-ca' }, { name: 'organizationName', value: 'node-ca' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  const unique = [...new Set([...names, 'localhost', '127.0.0.1'])].filter((n) => n !== '');
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: unique.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { key: forge.pki.privateKeyToPem(keys.privateKey), cert: forge.pki.certificateToPem(cert) };
}

export async function readTlsFiles(certFile: string, keyFile: string): Promise<TlsMaterial> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { cert, key };
}
