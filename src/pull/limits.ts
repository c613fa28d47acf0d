/**
 * The agent's pull-check limits, in a module of their own so `node-ca fleet`
 * derives how long to wait from the same numbers without loading the checker.
 */

/** Per-image timeout of a pull check (a request may only lower it). */
export const pullCheckImageTimeoutMs = 120_000;

/** Images one pull-check request checks at once. */
export const pullChecksAtOnce = 3;
