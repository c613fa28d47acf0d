import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHeapTrimmer, createStreamGc, heapCheckEvery, majorAfterGrowth } from '../../../src/lib/heap.js';

describe('createHeapTrimmer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs one memory-reducing full GC once nothing has poked for quietMs', () => {
    vi.useFakeTimers();
    const gc = vi.fn();
    const heap = createHeapTrimmer({ quietMs: 5000, busyEveryMs: 60_000, gc });
    heap.poke();
    vi.advanceTimersByTime(4000);
    heap.poke();
    vi.advanceTimersByTime(4000);
    expect(gc).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1000);
    expect(gc).toHaveBeenCalledTimes(1);
    expect(gc).toHaveBeenCalledWith({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  });

  it('re-arms after it has fired, and never after stop()', () => {
    vi.useFakeTimers();
    const gc = vi.fn();
    const heap = createHeapTrimmer({ quietMs: 5000, busyEveryMs: 60_000, gc });
    heap.poke();
    vi.advanceTimersByTime(5000);
    heap.poke();
    vi.advanceTimersByTime(5000);
    expect(gc).toHaveBeenCalledTimes(2);
    heap.poke();
    heap.stop();
    heap.poke();
    vi.advanceTimersByTime(10_000);
    expect(gc).toHaveBeenCalledTimes(2);
  });

  it('during a burst that never goes quiet, trims at most every busyEveryMs', () => {
    vi.useFakeTimers();
    const gc = vi.fn();
    const heap = createHeapTrimmer({ quietMs: 5000, busyEveryMs: 2000, gc });
    // A poke every 100 ms for 10 s: never quiet for 5 s.
    for (let t = 0; t < 10_000; t += 100) {
      heap.poke();
      vi.advanceTimersByTime(100);
    }
    // At the pokes of 2, 4, 6 and 8 s; then once, 5 s after the last poke.
    expect(gc).toHaveBeenCalledTimes(4);
    vi.advanceTimersByTime(5000);
    expect(gc).toHaveBeenCalledTimes(5);
  });

  it('during a burst, also trims once the heap has grown busyGrowthBytes since the last trim', () => {
    vi.useFakeTimers();
    let heap = 10 << 20;
    const gc = vi.fn(() => {
      heap = 10 << 20;
    });
    const trimmer = createHeapTrimmer({ quietMs: 5000, busyEveryMs: 60_000, busyGrowthBytes: 2 << 20, gc, usedHeap: () => heap });
    // Each poke follows 0.5 MiB of garbage: the fourth reaches 2 MiB.
    for (let i = 1; i <= 3; i++) {
      heap += 512 << 10;
      trimmer.poke();
    }
    expect(gc).not.toHaveBeenCalled();
    heap += 512 << 10;
    trimmer.poke();
    expect(gc).toHaveBeenCalledTimes(1);
    heap += 1 << 20;
    trimmer.poke();
    expect(gc).toHaveBeenCalledTimes(1);
    trimmer.stop();
  });

  it('trim() runs at once; without an exposed gc nothing happens', () => {
    const gc = vi.fn();
    createHeapTrimmer({ quietMs: 5000, busyEveryMs: 60_000, gc }).trim();
    expect(gc).toHaveBeenCalledTimes(1);
    expect(() => {
      createHeapTrimmer({ quietMs: 5000, busyEveryMs: 60_000 }).trim();
    }).not.toThrow();
  });
});

describe('createStreamGc', () => {
  it('is undefined where gc is not exposed', () => {
    expect(createStreamGc(undefined)).toBeUndefined();
  });

  it('looks at the heap every heapCheckEvery bytes, and runs a full GC only once it grew majorAfterGrowth', () => {
    const calls: string[] = [];
    let heap = 100 << 20;
    let looks = 0;
    const collect = createStreamGc(
      (o) => {
        calls.push(o.type);
        // A full GC drops the heap back to its live size.
        if (o.type === 'major') heap = 110 << 20;
      },
      () => {
        looks += 1;
        return heap;
      },
    );
    expect(collect).toBeDefined();
    looks = 0;
    // The heap grows, but not yet enough for a full GC; and between checks it is not looked at.
    heap += majorAfterGrowth;
    collect?.(heapCheckEvery - 1);
    expect(looks).toBe(0);
    heap -= 1;
    collect?.(1);
    expect(looks).toBe(1);
    expect(calls).toEqual([]);
    heap += 1;
    collect?.(heapCheckEvery);
    expect(calls).toEqual(['major']);
    // Growth is measured from the heap after that full GC (110 MiB), not from the start.
    heap = (110 << 20) + majorAfterGrowth - 1;
    collect?.(heapCheckEvery);
    expect(calls).toEqual(['major']);
  });
});
