import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { demoBundles } from '../../../src/demo/sample-ca.js';
import { parseBundle } from '../../../src/trust/bundle.js';
import { makeCa } from '../../support/pki.js';

const caA = makeCa('CA A', { keyIndex: 0 });
const caB = makeCa('CA B', { keyIndex: 1 });
const expired = makeCa('Old CA', { notBefore: new Date('2020-01-01'), notAfter: new Date('2021-01-01') });
const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

function expectInvalid(text: string, reason: RegExp) {
  const parsed = parseBundle(text);
  expect(parsed.ok).toBe(false);
  if (!parsed.ok) expect(parsed.reason).toMatch(reason);
}

describe('parseBundle', () => {
  it('normalizes a bundle: LF, one cert after another, trailing newline', () => {
    const crlf = `${caA.cert}\n\n${caB.cert}`.replace(/\n/g, '\r\n');
    const parsed = parseBundle(crlf);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.bundle.certificates.map((c) => c.subject)).toEqual(['CN=CA A', 'CN=CA B']);
    expect(parsed.bundle.pem).toBe(caA.cert + caB.cert);
    expect(parsed.bundle.pem.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
    expect(parsed.bundle.pem).not.toContain('\r');
    expect(parsed.bundle.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('drops duplicates (same DER) and keeps order', () => {
    const parsed = parseBundle(caB.cert + caA.cert + caB.cert);
    expect(parsed.ok && parsed.bundle.certificates.map((c) => c.subject)).toEqual(['CN=CA B', 'CN=CA A']);
  });

  it('reports fingerprint, notAfter and CA flag', () => {
    const parsed = parseBundle(caA.cert);
    if (!parsed.ok) throw new Error(parsed.reason);
    const [c] = parsed.bundle.certificates;
    expect(c?.fingerprint).toMatch(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
    expect(c?.isCA).toBe(true);
    expect(c?.notAfter.getTime()).toBe(caA.forgeCert.validity.notAfter.getTime() - (caA.forgeCert.validity.notAfter.getTime() % 1000));
  });

  it('keeps expired certificates (they are reported, not dropped)', () => {
    const parsed = parseBundle(expired.cert + caA.cert);
    expect(parsed.ok && parsed.bundle.certificates.length).toBe(2);
  });

  it('accepts # comment lines between blocks, as distribution bundles have', () => {
    expect(parseBundle(`# Registry CA\n${caA.cert}\n# Second\n${caB.cert}`).ok).toBe(true);
  });

  it.each([
    ['openssl x509 -text output before each block', `Certificate:\n    Data:\n        Version: 3 (0x2)\n${caA.cert}Certificate:\n    Subject: CN=CA B\n${caB.cert}`],
    ['curl cacert.pem titles', `##\n## Bundle of CA Root Certificates\n\nCA A\n====\n${caA.cert}\nCA B\n====\n${caB.cert}`],
    ['text after the last block', `${caA.cert}${caB.cert}trailing notes\n`],
    ['trailing blanks on the BEGIN and END lines', (caA.cert + caB.cert).replace(/-----\n/g, '----- \t\n')],
  ])('accepts explanatory text outside the blocks (RFC 7468): %s', (_name, text) => {
    const parsed = parseBundle(text);
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(parsed.bundle.pem).toBe(caA.cert + caB.cert);
  });

  it('accepts ECDSA CA certificates (forge alone only parses RSA keys)', () => {
    const ec = demoBundles.get('image-registry.image-registry-system.svc..5000') ?? '';
    const parsed = parseBundle(ec);
    expect(parsed.ok && parsed.bundle.certificates[0]?.subject).toBe('O=node-ca demo, CN=node-ca demo registry CA');
  });

  it('refuses a private key pasted next to the certificate', () => {
    expectInvalid(caA.cert + ecKey, /PRIVATE KEY.*never be distributed/);
    expectInvalid(caA.cert + caA.key, /PRIVATE KEY/);
  });

  it.each([
    ['empty', '', /no CERTIFICATE/],
    ['whitespace', '  \n\n', /no CERTIFICATE/],
    ['text only', 'hello world', /no CERTIFICATE/],
    ['a stray END line before a block', `MIIB\n-----END CERTIFICATE-----\n${caA.cert}`, /boundary outside any block before block 1/],
    ['a stray END line after the blocks', `${caA.cert}MIIB\n-----END CERTIFICATE-----\n`, /boundary outside any block/],
    ['truncated', caA.cert.slice(0, 300), /unterminated PEM block/],
    ['truncated before another block', `${caA.cert.slice(0, 300)}\n${caB.cert}`, /block 1 is truncated/],
    ['bad base64 body', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /not valid PEM\/DER|not an X.509/],
    ['a CSR', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', /only CERTIFICATE/],
  ])('refuses %s', (_name, text, reason) => {
    expectInvalid(text, reason);
  });

  it('refuses PEM headers (encrypted or legacy blocks)', () => {
    const withHeaders = caA.cert.replace('-----BEGIN CERTIFICATE-----\n', '-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n');
    expectInvalid(withHeaders, /PEM headers/);
  });
});
