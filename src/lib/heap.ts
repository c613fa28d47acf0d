/**
 * V8's `gc` function, present when node runs with `--expose-gc` (the image's
 * ENTRYPOINT passes it). The options are V8's gc extension's.
 */
type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

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
 * every `busyEveryMs` (under 1 % of a core at 2 s), so the garbage a burst
 * holds is bounded too. Without `gc` (tests, a plain `node` run) this does
 * nothing.
 */
export function createHeapTrimmer(options: {
  quietMs: number;
  busyEveryMs: number;
  gc?: GcFunction | undefined;
}): HeapTrimmer {
  const gc = options.gc ?? (globalThis as { gc?: GcFunction }).gc;
  let lastTrim = Date.now();
  const trim = () => {
    lastTrim = Date.now();
    gc?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  return {
    trim,
    poke() {
      if (stopped) return;
      if (Date.now() - lastTrim >= options.busyEveryMs) trim();
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
