import { getHeapStatistics } from 'node:v8';

/**
 * V8's `gc` function, present when node runs with `--expose-gc` (the image's
 * ENTRYPOINT passes it). The options are V8's gc extension's.
 */
export type GcFunction = (options: { type: 'major' | 'minor'; execution: 'sync'; flavor?: 'regular' | 'last-resort' }) => void;

/** `gc` when exposed (the image), else undefined. */
export function exposedGc(): GcFunction | undefined {
  return (globalThis as { gc?: GcFunction }).gc;
}

/** V8's used heap, the figure both GC policies below watch. */
function usedHeapBytes(): number {
  return getHeapStatistics().used_heap_size;
}

export interface HeapTrimmer {
  /** Trims now (after start-up: its modules and config parsing leave garbage). */
  trim(): void;
  /** Activity: trims once nothing has poked for `quietMs`, and at most every `busyEveryMs` meanwhile. */
  poke(): void;
  stop(): void;
}

/**
 * Hands the garbage of start-up and of a burst of CA updates back to the OS
 * once the agent is quiet. V8 keeps the pages it grew and collects the old
 * generation only when it reaches a limit: an agent that reconciles a few
 * times a day would sit at its high-water mark for ever. A memory-reducing
 * full GC (V8's LowMemoryNotification: compacts, then releases free pages)
 * takes about 15 ms on this 15 MiB heap. During a long burst it also runs
 * once the heap has grown `busyGrowthBytes` since the last trim, and at most
 * every `busyEveryMs` otherwise, so the garbage a burst holds stays bounded
 * (a 1,000-update burst: about one trim per 2 MiB of garbage, well under
 * 5 % of a core while it lasts). Without `gc` (tests, a plain `node` run)
 * this does nothing.
 */
export function createHeapTrimmer(options: {
  quietMs: number;
  busyEveryMs: number;
  /** Heap growth since the last trim that trims at the next poke. Default 2 MiB. */
  busyGrowthBytes?: number;
  gc?: GcFunction | undefined;
  usedHeap?: () => number;
}): HeapTrimmer {
  const gc = options.gc ?? exposedGc();
  const usedHeap = options.usedHeap ?? usedHeapBytes;
  const growth = options.busyGrowthBytes ?? 2 << 20;
  let lastTrim = Date.now();
  let heapAfterTrim = gc === undefined ? 0 : usedHeap();
  const trim = () => {
    lastTrim = Date.now();
    if (gc === undefined) return;
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    heapAfterTrim = usedHeap();
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    trim,
    poke() {
      if (stopped) return;
      if (Date.now() - lastTrim >= options.busyEveryMs || (gc !== undefined && usedHeap() - heapAfterTrim >= growth)) trim();
      // refresh() re-arms the same timer, also after it has fired: nothing allocated per poke.
      if (timer === undefined) timer = setTimeout(trim, options.quietMs).unref();
      else timer.refresh();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Stream bytes between two looks at the heap (see createStreamGc). */
export const heapCheckEvery = 8 << 20;
/** Heap growth since the last full GC that triggers the next one (see createStreamGc). */
export const majorAfterGrowth = 24 << 20;

/**
 * Keeps a long stream's heap flat, where `gc` is exposed; returns undefined
 * elsewhere (V8 decides alone). Call it with each chunk's size.
 *
 * Every `heapCheckEvery` bytes it looks at the heap, and when it has grown
 * `majorAfterGrowth` since the last full GC, runs one. Objects that outlive
 * two scavenges of the image's 1 MiB young generation die in old space, and
 * V8 lets them pile up until its old-space limit: on 200,000 files the heap
 * grew 60 MiB. A full GC of the live heap takes a few tens of ms.
 *
 * (The stream's read buffers are allocated once and reused, so there are no
 * dead buffers waiting for a scavenge: an earlier version forced one every
 * 8 MiB for them.)
 */
export function createStreamGc(
  gc: GcFunction | undefined = exposedGc(),
  usedHeap: () => number = usedHeapBytes,
): ((bytes: number) => void) | undefined {
  if (gc === undefined) return undefined;
  let since = 0;
  let base = usedHeap();
  return (bytes) => {
    since += bytes;
    if (since < heapCheckEvery) return;
    since = 0;
    if (usedHeap() - base < majorAfterGrowth) return;
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    base = usedHeap();
  };
}
