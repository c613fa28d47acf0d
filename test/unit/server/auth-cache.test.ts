import { describe, expect, it } from 'vitest';
import { createDecisionCache } from '../../../src/server/auth-cache.js';

describe('createDecisionCache', () => {
  it('keeps each answer for its own lifetime', () => {
    let now = 0;
    const cache = createDecisionCache<boolean>({ max: 10, ttlMs: (v) => (v ? 10_000 : 5_000), now: () => now });
    cache.set('yes', true);
    cache.set('no', false);
    now = 4_999;
    expect([cache.get('yes'), cache.get('no')]).toEqual([true, false]);
    now = 5_000;
    expect([cache.get('yes'), cache.get('no')]).toEqual([true, undefined]);
    now = 10_000;
    expect(cache.get('yes')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never holds more than max entries, evicting the oldest first', () => {
    const cache = createDecisionCache<number>({ max: 3, ttlMs: () => 1000, now: () => 0 });
    for (let i = 0; i < 5; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBe(3);
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k1')).toBeUndefined();
    expect(cache.get('k4')).toBe(4);
  });

  it('refreshes the eviction order of a key set again', () => {
    const cache = createDecisionCache<number>({ max: 2, ttlMs: () => 1000, now: () => 0 });
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 3);
    cache.set('c', 4);
    expect(cache.get('a')).toBe(3);
    expect(cache.get('b')).toBeUndefined();
  });

  it('does not store answers with a zero lifetime', () => {
    const cache = createDecisionCache<number>({ max: 2, ttlMs: () => 0 });
    cache.set('a', 1);
    expect(cache.get('a')).toBeUndefined();
  });
});
