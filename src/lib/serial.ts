/**
 * Runs `task` one at a time and coalesces triggers: a trigger during a run
 * schedules exactly one more run after it, however many arrive. This is what
 * makes a burst of watch events cost one or two reconciles, not hundreds.
 */
export function createCoalescingRunner(task: () => Promise<void>) {
  let running: Promise<void> | undefined;
  // An object, not a `let`: the flag flips while `task()` is awaited.
  const pending = { again: false };

  async function loop(): Promise<void> {
    do {
      pending.again = false;
      await task();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by trigger() during the await
    } while (pending.again);
  }

  return {
    /** Resolves when a run that started at or after this call has finished. */
    trigger(): Promise<void> {
      if (running !== undefined) {
        pending.again = true;
        return running;
      }
      running = loop().finally(() => {
        running = undefined;
      });
      return running;
    },
    /** Resolves when no run is in flight (for shutdown). */
    async idle(): Promise<void> {
      while (running !== undefined) await running.catch(() => undefined);
    },
  };
}
