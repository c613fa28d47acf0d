import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/lib/errors.js';
import { createLogger } from '../../../src/lib/logger.js';
import { createSelfSignedCertificate, selfSignedNames } from '../../../src/server/self-signed.js';
import { loadTlsFiles, type TlsMaterial } from '../../../src/server/tls.js';
import { watchTlsFiles } from '../../../src/server/tls-reload.js';
import { waitFor } from '../../support/poll.js';
import { issueServerCert, makeCa } from '../../support/pki.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-tls-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createSelfSignedCertificate', () => {
  it('names the node, the node IP, the pod IP, localhost and 127.0.0.1, and its key matches', () => {
    const m = createSelfSignedCertificate(['node-1', '192.168.3.10', '10.244.1.7']);
    const x = new X509Certificate(m.cert);
    expect(x.subjectAltName).toBe('DNS:node-1, IP Address:192.168.3.10, IP Address:10.244.1.7, DNS:localhost, IP Address:127.0.0.1');
    expect(x.subject).toContain('CN=node-1');
    expect(x.checkPrivateKey(createPrivateKey(m.key))).toBe(true);
  });

  it('drops absent and duplicate names', () => {
    expect(selfSignedNames(['node-1', undefined, '', ' 127.0.0.1 ', 'node-1'])).toEqual(['node-1', '127.0.0.1', 'localhost']);
  });
});

describe('loadTlsFiles', () => {
  const ca = makeCa('test-ca');
  const a = issueServerCert(ca, ['a.example'], { keyIndex: 1 });
  const b = issueServerCert(ca, ['b.example'], { keyIndex: 2 });

  async function files(cert: string, key: string) {
    const certFile = path.join(dir, 'tls.crt');
    const keyFile = path.join(dir, 'tls.key');
    await writeFile(certFile, cert);
    await writeFile(keyFile, key);
    return { certFile, keyFile };
  }

  it('loads a matching pair', async () => {
    const f = await files(a.cert, a.key);
    expect(await loadTlsFiles(f.certFile, f.keyFile)).toEqual({ cert: a.cert, key: a.key });
  });

  it.each([
    ['a missing cert file', async () => ({ certFile: path.join(dir, 'nope.crt'), keyFile: (await files(a.cert, a.key)).keyFile }), /^server\.tls\.certFile: cannot read .*nope\.crt/],
    ['a missing key file', async () => ({ certFile: (await files(a.cert, a.key)).certFile, keyFile: path.join(dir, 'nope.key') }), /^server\.tls\.keyFile: cannot read/],
    ['a cert file without PEM', () => files('hello', a.key), /^server\.tls\.certFile: .* holds no PEM certificate/],
    ['a key file without a key', () => files(a.cert, a.cert), /^server\.tls\.keyFile: .* holds no PEM private key/],
    ['a key of another certificate', () => files(a.cert, b.key), /^server\.tls\.keyFile: .* is not the private key of the certificate/],
  ])('refuses %s with a ConfigError naming the key', async (_name, make, message) => {
    const f = await make();
    const err = await loadTlsFiles(f.certFile, f.keyFile).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });

  it('reloads when the files change, and keeps the served pair while they do not match', async () => {
    const f = await files(a.cert, a.key);
    const applied: TlsMaterial[] = [];
    const watch = await watchTlsFiles({
      ...f,
      current: { cert: a.cert, key: a.key },
      apply: (m) => applied.push(m),
      logger: createLogger({ level: 'silent' }),
    });
    try {
      await writeFile(f.certFile, b.cert);
      await writeFile(f.keyFile, b.key);
      await waitFor(() => applied.length > 0, { timeoutMs: 10_000, message: 'reload' });
      expect(applied.at(-1)).toEqual({ cert: b.cert, key: b.key });
      // Replaced one after the other: the moment in between (a's cert, b's key) is never applied.
      await writeFile(f.certFile, a.cert);
      await new Promise((r) => setTimeout(r, 200)); // not a sync: lets the watcher see the mismatched pair
      await writeFile(f.keyFile, a.key);
      await waitFor(() => applied.at(-1)?.cert === a.cert, { timeoutMs: 10_000, message: 'second reload' });
      const pairs = [`${a.cert}${a.key}`, `${b.cert}${b.key}`];
      expect(applied.map((m) => `${m.cert}${m.key}`).every((p) => pairs.includes(p))).toBe(true);
      expect(applied.at(-1)).toEqual({ cert: a.cert, key: a.key });
    } finally {
      await watch.stop();
    }
  }, 20_000);
});
