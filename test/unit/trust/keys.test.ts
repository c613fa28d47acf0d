import { describe, expect, it } from 'vitest';
import { parseKey } from '../../../src/trust/keys.js';

describe('parseKey', () => {
  it.each([
    ['image-registry.image-registry-system.svc..5000', 'image-registry.image-registry-system.svc:5000'],
    ['registry.example.com', 'registry.example.com'],
    ['localhost..5000', 'localhost:5000'],
    ['192.168.3.10..443', '192.168.3.10:443'],
    ['10.0.0.1', '10.0.0.1'],
    ['a', 'a'],
    ['x..65535', 'x:65535'],
    ['x..1', 'x:1'],
    [`${'a'.repeat(63)}.b`, `${'a'.repeat(63)}.b`],
  ])('accepts %s as host %s', (key, host) => {
    expect(parseKey(key)).toEqual({ ok: true, host });
  });

  it.each([
    ['', /empty/],
    ['Registry.example.com', /lowercase/],
    ['storage-ca-bundle.pem', /file name/],
    ['service-ca.crt', /file name/],
    ['registry.example.com..0', /port/],
    ['registry.example.com..65536', /port/],
    ['registry.example.com..05000', /port/],
    ['registry.example.com..', /port/],
    ['registry.example.com..50a', /port/],
    ['registry..5000..6000', /port/],
    ['-registry.example.com', /DNS label/],
    ['registry-.example.com', /DNS label/],
    ['registry_1.example.com', /DNS label/],
    ['.registry.example.com', /empty label/],
    [`${'a'.repeat(64)}.com`, /DNS label/],
    ['../../etc', /empty|label/],
    ['a/b', /DNS label/],
    ['registry.example.com:5000', /DNS label/],
    ['010.1.1.1', /not a valid IPv4 address/],
    ['256.1.1.1..5000', /not a valid IPv4 address/],
    ['10.0.0', /not a valid IPv4 address/],
    ['registry.123', /all-digit label/],
    [`${'a.'.repeat(127)}ab`, /253/],
  ])('refuses %j', (key, reason) => {
    const parsed = parseKey(key);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});
