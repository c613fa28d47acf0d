import { describe, expect, it } from 'vitest';
import { mapBounded } from '../../../src/lib/bounded.js';

/*
 * Every call waits on a deferred promise the test settles by hand, so which
 * calls are in flight at each step is decided by the test, not by timers.
 */

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: Error): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every already-settled promise's continuations run (no timers). */
async function drain(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
}

/** A mapper over `items` whose calls stay pending until the test settles them. */
function controlled(items: readonly string[], limit: number | undefined) {
  const pending = new Map<string, Deferred<string>>();
  const started: string[] = [];
  let running = 0;
  let peak = 0;
  const result = mapBounded(items, limit, async (item) => {
    started.push(item);
    running += 1;
    peak = Math.max(peak, running);
    const d = deferred<string>();
    pending.set(item, d);
    try {
      return await d.promise;
    } finally {
      running -= 1;
    }
  });
  const settle = async (item: string, value = item.toUpperCase()) => {
    const d = pending.get(item);
    if (d === undefined) throw new Error(`${item} has not started`);
    d.resolve(value);
    await drain();
  };
  return { result, started, settle, peak: () => peak, running: () => running, pending };
}

describe('mapBounded', () => {
  it('starts no more than `limit` calls, starts the next as one settles, and keeps input order', async () => {
    const m = controlled(['a', 'b', 'c', 'd', 'e'], 2);
    await drain();
    expect(m.started).toEqual(['a', 'b']);
    // Settled out of order: b first frees one slot, which c takes.
    await m.settle('b');
    expect(m.started).toEqual(['a', 'b', 'c']);
    expect(m.running()).toBe(2);
    await m.settle('c');
    await m.settle('a');
    expect(m.started).toEqual(['a', 'b', 'c', 'd', 'e']);
    await m.settle('e');
    await m.settle('d');
    expect(await m.result).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(m.peak()).toBe(2);
  });

  it.each([
    [undefined, 4],
    [0, 4],
    [-1, 4],
    [1, 1],
    [3, 3],
    [10, 4],
  ])('with limit %s runs %i at once', async (limit, expected) => {
    const items = ['a', 'b', 'c', 'd'];
    const m = controlled(items, limit);
    await drain();
    expect(m.started).toHaveLength(expected);
    for (const item of items) await m.settle(item);
    expect(await m.result).toEqual(['A', 'B', 'C', 'D']);
    expect(m.peak()).toBe(expected);
  });

  it('passes each item its index and answers an empty list with an empty list', async () => {
    expect(
      await mapBounded(['x', 'y', 'z'], 2, (item, index) => Promise.resolve(`${item}${index}`)),
    ).toEqual(['x0', 'y1', 'z2']);
    let called = false;
    expect(
      await mapBounded([], 3, () => {
        called = true;
        return Promise.resolve(1);
      }),
    ).toEqual([]);
    expect(called).toBe(false);
  });

  it('rejects with the first rejection, like Promise.all', async () => {
    const m = controlled(['a', 'b'], 2);
    await drain();
    m.pending.get('b')?.reject(new Error('b failed'));
    await expect(m.result).rejects.toThrow('b failed');
  });
});
