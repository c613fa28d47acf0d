import type { WalkGate } from './walk.js';

/**
 * Keeps the second walk behind tar (walk.ts, `walkChanges` with a gate): it
 * may look at the first walk's entry `index` once the archive has passed
 * it. `poke` after each archive member; `end` when the archive is all in
 * (every gate opens); `abort` when the backup failed (waiting walks stop).
 */
export class Trail {
  private waiter: { index: number; resolve: () => void; reject: (err: Error) => void } | undefined;
  private ended = false;
  private failure: Error | undefined;

  /** `passed()`: how many of the first walk's entries the archive has gone past. */
  constructor(private readonly passed: () => number) {}

  readonly gate: WalkGate = (index) => {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended || this.passed() > index) return undefined;
    return new Promise((resolve, reject) => {
      this.waiter = { index, resolve, reject };
    });
  };

  poke(): void {
    const w = this.waiter;
    if (w === undefined || !(this.ended || this.passed() > w.index)) return;
    this.waiter = undefined;
    w.resolve();
  }

  end(): void {
    this.ended = true;
    this.poke();
  }

  abort(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }
}
