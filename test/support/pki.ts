import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface KeyPairPem {
  readonly cert: string;
  readonly key: string;
}

interface Issued extends KeyPairPem {
  readonly forgeCert: forge.pki.Certificate;
  readonly forgeKey: forge.pki.rsa.PrivateKey;
}

const keyCache: forge.pki.rsa.KeyPair[] = [];

// RSA generation is the slow part; tests share a few keys.
function keyPair(i: number): forge.pki.rsa.KeyPair {
  keyCache[i] ??= forge.pki.rsa.generateKeyPair({ bits: 2048 });
  return keyCache[i];
}

let serial = 1;

/** A self-signed CA for tests. */
export function makeCa(commonName: string, options: { notAfter?: Date; notBefore?: Date; keyIndex?: number } = {}): Issued {
  const keys = keyPair(options.keyIndex ?? 0);
  const cert = baseCert(keys.publicKey, commonName, options);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return pack(cert, keys.privateKey);
}

/** A server certificate signed by `ca` for the given DNS names / IPs. */
export function issueServerCert(
  ca: Issued,
  names: readonly string[],
  options: { notAfter?: Date; notBefore?: Date; keyIndex?: number } = {},
): Issued {
  const keys = keyPair(options.keyIndex ?? 1);
  const cert = baseCert(keys.publicKey, names[0] ?? 'server', options);
  cert.setIssuer(ca.forgeCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) },
  ]);
  cert.sign(ca.forgeKey, forge.md.sha256.create());
  return pack(cert, keys.privateKey);
}

function baseCert(publicKey: forge.pki.PublicKey, cn: string, o: { notAfter?: Date; notBefore?: Date }) {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  serial += 1;
  cert.serialNumber = `7${serial.toString(16).padStart(8, '0')}${randomBytes(6).toString('hex')}`;
  cert.validity.notBefore = o.notBefore ?? new Date(Date.now() - 3600_000);
  cert.validity.notAfter = o.notAfter ?? new Date(Date.now() + 30 * 24 * 3600_000 * 12);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  return cert;
}

function pack(cert: forge.pki.Certificate, key: forge.pki.rsa.PrivateKey): Issued {
  return { cert: forge.pki.certificateToPem(cert).replace(/\r\n/g, '\n'), key: forge.pki.privateKeyToPem(key).replace(/\r\n/g, '\n'), forgeCert: cert, forgeKey: key };
}
