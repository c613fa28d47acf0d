import { rm } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeRegistry } from '../../../src/pull/registry-probe.js';
import { makeCa } from '../../support/pki.js';
import { certsDirFor, startHungListener } from './hung-registry.js';

describe('probeRegistry against a hung registry', () => {
  let hung: Awaited<ReturnType<typeof startHungListener>>;
  let certsDir: string;
  beforeEach(async () => {
    hung = await startHungListener();
    certsDir = await certsDirFor(hung.host, makeCa('probe test CA').cert);
  });
  afterEach(async () => {
    await hung.close();
    await rm(certsDir, { recursive: true, force: true });
  });

  it('answers TIMEOUT at its timeoutMs, not twice that', async () => {
    const timeoutMs = 1500;
    const started = performance.now();
    const r = await probeRegistry({ domain: hung.host, path: 'acp/core', reference: 'v1' }, { certsDir, timeoutMs });
    const elapsed = performance.now() - started;
    expect(r).toMatchObject({ ok: false, tlsVerified: false, error: { code: 'TIMEOUT', message: `no answer within ${timeoutMs} ms` } });
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
    expect(elapsed).toBeLessThan(timeoutMs + 600);
  });
});
