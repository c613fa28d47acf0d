import { createHash, X509Certificate } from 'node:crypto';
// Only the PEM and ASN.1 parts of node-forge: the reconciler runs in every
// agent, and the whole library is about 1 MiB more of its RSS.
import asn1 from 'node-forge/lib/asn1.js';
import pem from 'node-forge/lib/pem.js';

/**
 * PEM rules for a CA bundle, in the spirit of cert-manager trust-manager's
 * cert_pool.go. A bundle is what every node will trust for a registry, so the
 * rules are strict and each says why:
 *
 * - Only CERTIFICATE blocks. A PRIVATE KEY pasted into the ConfigMap by
 *   mistake must never be copied onto every node's disk: the whole value is
 *   refused, not filtered, so the mistake is seen.
 * - No PEM headers (Proc-Type, DEK-Info): those mark encrypted or legacy
 *   blocks, never a plain certificate.
 * - Text outside blocks is explanation and is ignored (RFC 7468 section 2:
 *   `openssl x509 -text` output, curl's cacert.pem titles, `#` comments), but
 *   a BEGIN or END line outside a block means a truncated or mangled paste
 *   and refuses the value, as does a block holding another block's BEGIN.
 * - Every block must be a DER X.509 certificate. A half-valid bundle is
 *   refused whole, and the last good files stay.
 * - Duplicates (same DER) are dropped, order is kept.
 *
 * Expired certificates are kept: a bundle is often rotated by adding the new
 * CA before the old one expires, and removing an expired one is the owner's
 * call. They are reported instead.
 */

export interface CaCertificate {
  /** Normalized PEM of this certificate (64-column base64, LF, trailing newline). */
  readonly pem: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 of the DER, lowercase hex with colons (as `openssl x509 -fingerprint -sha256`). */
  readonly fingerprint: string;
  readonly isCA: boolean;
}

export interface CaBundle {
  readonly certificates: readonly CaCertificate[];
  /** ca.crt contents: the certificates one after another. */
  readonly pem: string;
  /** SHA-256 of `pem`, hex. */
  readonly sha256: string;
}

export type BundleParse = { ok: true; bundle: CaBundle } | { ok: false; reason: string };

const blockRe = /-----BEGIN ([A-Z0-9 ]+)-----[ \t]*\r?\n([\s\S]*?)-----END \1-----/g;

export function parseBundle(text: string): BundleParse {
  const blocks = parseBlocks(text);
  if (!blocks.ok) return blocks;
  const certificates = withoutDuplicates(blocks.certificates);
  if (certificates.length === 0) return { ok: false, reason: 'no CERTIFICATE block found' };
  const pem = certificates.map((c) => c.pem).join('');
  return { ok: true, bundle: { certificates, pem, sha256: sha256Hex(pem) } };
}

type BlocksParse = { ok: true; certificates: CaCertificate[] } | { ok: false; reason: string };

/** Every block in order; the first bad block or stray line refuses the whole text. */
function parseBlocks(text: string): BlocksParse {
  const certificates: CaCertificate[] = [];
  let last = 0;
  let index = 0;
  for (const match of text.matchAll(blockRe)) {
    index += 1;
    const outside = strayBoundary(text.slice(last, match.index));
    if (outside !== undefined) return { ok: false, reason: `a PEM boundary outside any block before block ${index}: "${outside}"` };
    last = match.index + match[0].length;
    if (match[2]?.includes('-----') === true) return { ok: false, reason: `block ${index} is truncated: a BEGIN line without its END` };
    const parsed = parseBlock(match[0], match[1] ?? '', index);
    if (!parsed.ok) return parsed;
    certificates.push(parsed.cert);
  }
  const trailing = trailingProblem(text.slice(last));
  return trailing === undefined ? { ok: true, certificates } : { ok: false, reason: trailing };
}

/** What is wrong after the last block, if anything: a truncated paste leaves a BEGIN without its END. */
function trailingProblem(rest: string): string | undefined {
  const trailing = strayBoundary(rest);
  if (trailing === undefined) return undefined;
  const what = /-----BEGIN/.test(trailing) ? 'an unterminated PEM block' : `a PEM boundary outside any block: "${trailing}"`;
  return `${what} after the last certificate`;
}

/** Same DER, same fingerprint: the first one is kept, in its place. */
function withoutDuplicates(certificates: readonly CaCertificate[]): CaCertificate[] {
  const seen = new Set<string>();
  return certificates.filter((c) => {
    if (seen.has(c.fingerprint)) return false;
    seen.add(c.fingerprint);
    return true;
  });
}

type BlockParse = { ok: true; cert: CaCertificate } | { ok: false; reason: string };

function parseBlock(block: string, type: string, index: number): BlockParse {
  if (type !== 'CERTIFICATE') {
    const hint = type.includes('PRIVATE KEY') ? ' (a private key must never be distributed)' : '';
    return { ok: false, reason: `block ${index} is ${type}, only CERTIFICATE is allowed${hint}` };
  }
  let der: string;
  try {
    const [msg] = pem.decode(block);
    if (msg === undefined) return { ok: false, reason: `block ${index} is not PEM` };
    if (msg.procType !== null || (msg.headers ?? []).length > 0)
      return { ok: false, reason: `block ${index} has PEM headers; a CA certificate has none` };
    der = msg.body;
    // Strict DER; forge 1.x also refuses bytes left after the structure.
    asn1.fromDer(der, true);
  } catch (err) {
    return { ok: false, reason: `block ${index} is not valid PEM/DER: ${String(err)}` };
  }
  return describe(Buffer.from(der, 'binary'), index);
}

// forge's certificateFromAsn1 understands only RSA public keys; ECDSA and
// Ed25519 registry CAs are common, so the X.509 fields come from OpenSSL.
function describe(der: Buffer, index: number): BlockParse {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (err) {
    return { ok: false, reason: `block ${index} is not an X.509 certificate: ${String(err)}` };
  }
  return {
    ok: true,
    cert: {
      pem: toPem(der),
      subject: oneLineName(x509.subject),
      issuer: oneLineName(x509.issuer),
      notBefore: new Date(x509.validFrom),
      notAfter: new Date(x509.validTo),
      fingerprint: x509.fingerprint256.toLowerCase(),
      isCA: x509.ca,
    },
  };
}

/** The first BEGIN or END line in text outside the blocks, if any (explanatory text is fine). */
function strayBoundary(between: string): string | undefined {
  const line = between
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => /-----(?:BEGIN|END) /.test(l));
  return line === undefined ? undefined : line.slice(0, 40);
}

function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

function oneLineName(name: string): string {
  return name.split('\n').filter((p) => p !== '').join(', ');
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
