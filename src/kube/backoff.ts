/** Restart delays for API watches: jittered exponential backoff, capped. */
export interface BackoffPolicy {
  /** First delay, ms. Default 500. */
  readonly initialMs: number;
  /** Cap, ms. Default 30 000 (the informer restart cap of client-go's reflector is similar). */
  readonly maxMs: number;
}

export const defaultBackoff: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

/**
 * Delay before restart number `attempt` (1-based): initial·2^(attempt-1),
 * capped, then scaled into [50 %, 100 %] so 5,000 agents that lost the API
 * at the same instant do not come back in lockstep.
 */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = defaultBackoff,
  random: () => number = Math.random,
): number {
  const exp = Math.min(
    policy.maxMs,
    policy.initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)),
  );
  return Math.round(exp * (0.5 + random() * 0.5));
}
