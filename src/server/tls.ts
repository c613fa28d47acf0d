import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError, errorMessage } from '../lib/errors.js';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
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
