import { describe, expect, it } from 'vitest';
import { checkCertificates } from '../../../src/doctor/certificates.js';
import { planDesiredState } from '../../../src/trust/desired.js';
import { issueServerCert, makeCa } from '../../support/pki.js';

const day = 86_400_000;
const now = new Date();
const registriesOf = (pem: string) =>
  planDesiredState(new Map([['registry.test.local..5000', pem]])).registries;
const check = (pem: string) => checkCertificates(registriesOf(pem), now, 'kubectl edit');
const byId = (pem: string) => Object.fromEntries(check(pem).map((r) => [r.id, r]));

describe('certificates check', () => {
  const good = makeCa('good CA');
  it('passes a CA valid for a year', () => {
    expect(check(good.cert).map((r) => r.status)).toEqual(['ok', 'ok']);
  });
  it('fails an expired CA', () => {
    const expired = makeCa('old CA', {
      notBefore: new Date(now.getTime() - 400 * day),
      notAfter: new Date(now.getTime() - day),
    });
    const r = byId(expired.cert)['certificate.expiry'];
    expect(r?.status).toBe('fail');
    expect(r?.message).toMatch(/^expired /);
    expect(r?.remedy).toContain('registry.test.local..5000');
  });
  it('warns about a CA expiring within 30 days', () => {
    const soon = makeCa('soon CA', { notAfter: new Date(now.getTime() + 10 * day) });
    expect(byId(soon.cert)['certificate.expiry']).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/expires in (9|10) days/) as string,
    });
  });
  it('does not warn at 31 days', () => {
    const later = makeCa('later CA', { notAfter: new Date(now.getTime() + 31 * day) });
    expect(byId(later.cert)['certificate.expiry']?.status).toBe('ok');
  });
  it('warns when a certificate is not a CA', () => {
    const leaf = issueServerCert(good, ['registry.test.local']);
    const r = byId(leaf.cert)['certificate.ca'];
    expect(r?.status).toBe('warn');
    expect(r?.message).toContain('not a CA');
  });
  it('checks each certificate of a bundle', () => {
    const soon = makeCa('soon CA', { notAfter: new Date(now.getTime() + 5 * day), keyIndex: 2 });
    expect(check(good.cert + soon.cert).map((r) => `${r.id}:${r.status}`)).toEqual([
      'certificate.expiry:ok',
      'certificate.ca:ok',
      'certificate.expiry:warn',
      'certificate.ca:ok',
    ]);
  });
});
