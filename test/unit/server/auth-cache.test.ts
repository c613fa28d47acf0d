import { describe, expect, it } from 'vitest';
import { createDecisionCache, createInFlightReviews } from '../../../src/server/auth-cache.js';

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

/** A call that settles when the test says so, counting how often it was started. */
function gatedCall<V>() {
  type Outcome = { value: V } | { error: Error };
  const settlers: ((outcome: Outcome) => void)[] = [];
  const gate = {
    started: 0,
    settle(outcome: Outcome) {
      for (const settle of settlers.splice(0)) settle(outcome);
    },
  };
  const call = () => {
    gate.started++;
    return new Promise<V>((resolve, reject) => {
      settlers.push((outcome) => {
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.value);
      });
    });
  };
  return { gate, call };
}

describe('createInFlightReviews', () => {
  it('gives every caller of a key the one call in flight, and forgets it once answered', async () => {
    const reviews = createInFlightReviews<string>(10);
    const { gate, call } = gatedCall<string>();
    const waiters = Array.from({ length: 5 }, () => reviews.run('k', call));
    expect(gate.started).toBe(1);
    expect(reviews.size).toBe(1);
    gate.settle({ value: 'alice' });
    expect(await Promise.all(waiters)).toEqual(Array<string>(5).fill('alice'));
    expect(reviews.size).toBe(0);
    void reviews.run('k', call);
    expect(gate.started).toBe(2);
  });

  it('rejects every waiter of a failed call, keeps no entry, and starts a new call for the next caller', async () => {
    const reviews = createInFlightReviews<string>(10);
    const { gate, call } = gatedCall<string>();
    const waiters = Array.from({ length: 3 }, () => reviews.run('k', call));
    gate.settle({ error: new Error('503 from the API') });
    const outcomes = await Promise.allSettled(waiters);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(reviews.size).toBe(0);
    const next = reviews.run('k', call);
    expect(gate.started).toBe(2);
    gate.settle({ value: 'alice' });
    expect(await next).toBe('alice');
  });

  it('keeps keys apart and, with max calls in flight, asks a further key unshared', async () => {
    const reviews = createInFlightReviews<string>(2);
    const calls = ['a', 'b', 'c', 'c'].map((key) => {
      const { gate, call } = gatedCall<string>();
      return { gate, answer: reviews.run(key, call) };
    });
    expect(calls.map((c) => c.gate.started)).toEqual([1, 1, 1, 1]);
    expect(reviews.size).toBe(2);
    for (const [i, c] of calls.entries()) c.gate.settle({ value: String(i) });
    expect(await Promise.all(calls.map((c) => c.answer))).toEqual(['0', '1', '2', '3']);
    expect(reviews.size).toBe(0);
  });
});
