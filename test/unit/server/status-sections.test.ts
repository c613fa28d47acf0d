import { describe, expect, it } from 'vitest';
import { statusSections } from '../../../src/agent.js';
import type { TrustReconciler } from '../../../src/trust/reconciler.js';

const trust = { status: () => ({ source: 'directory /ca' }) } as unknown as TrustReconciler;

describe('/v1/status sections', () => {
  it('always has hosts: without a hosts file, the fields of a running one, all empty', () => {
    const sections = statusSections(trust, undefined);
    expect(Object.keys(sections).sort()).toEqual(['hosts', 'trust']);
    expect(sections.hosts?.()).toEqual({ file: '', entries: [], services: [], lastSyncTime: null, lastWrite: null, errors: [] });
  });
});
