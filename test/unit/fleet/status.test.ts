import { describe, expect, it } from 'vitest';
import { computeDrift, summarizeStatus } from '../../../src/fleet/status.js';

const node = (name: string, fingerprints: Record<string, string[]>) => ({
  node: name,
  ready: true,
  lastSyncTime: null,
  registries: Object.keys(fingerprints).length,
  fingerprints,
});

describe('computeDrift', () => {
  it('flags the node that missed a rotation, not the majority', () => {
    const drift = computeDrift([
      node('a', { reg: ['new', 'old'] }),
      node('b', { reg: ['new', 'old'] }),
      node('c', { reg: ['old'] }),
    ]);
    expect(Object.fromEntries(drift)).toEqual({ a: [], b: [], c: ['reg'] });
  });

  it('flags a node missing a host the majority has', () => {
    const drift = computeDrift([
      node('a', { reg: ['x'], mirror: ['y'] }),
      node('b', { reg: ['x'], mirror: ['y'] }),
      node('c', { reg: ['x'] }),
    ]);
    expect(drift.get('c')).toEqual(['mirror']);
    expect(drift.get('a')).toEqual([]);
  });

  it('flags every node when there is no strict majority', () => {
    const drift = computeDrift([node('a', { reg: ['x'] }), node('b', { reg: ['y'] })]);
    expect(Object.fromEntries(drift)).toEqual({ a: ['reg'], b: ['reg'] });
  });

  it('finds no drift when all agree, whatever the order of fingerprints', () => {
    const drift = computeDrift([
      summarizeStatus('a', {
        node: 'a',
        trust: {
          registries: [{ host: 'reg', certificates: [{ fingerprint: '2' }, { fingerprint: '1' }] }],
        },
      }),
      summarizeStatus('b', {
        node: 'b',
        trust: {
          registries: [{ host: 'reg', certificates: [{ fingerprint: '1' }, { fingerprint: '2' }] }],
        },
      }),
    ]);
    expect(Object.fromEntries(drift)).toEqual({ a: [], b: [] });
  });
});

describe('summarizeStatus', () => {
  it('reads ready, last sync and registries from /v1/status, defaulting when trust is absent', () => {
    expect(summarizeStatus('a', { node: 'a' })).toEqual({
      node: 'a',
      ready: false,
      lastSyncTime: null,
      registries: 0,
      fingerprints: {},
    });
    const s = summarizeStatus('a', {
      node: 'a',
      trust: { ready: true, lastSyncTime: 't', registries: [{ host: 'h', certificates: [] }] },
    });
    expect(s).toMatchObject({
      ready: true,
      lastSyncTime: 't',
      registries: 1,
      fingerprints: { h: [] },
    });
  });
});
