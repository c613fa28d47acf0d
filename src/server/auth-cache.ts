/**
 * A small bounded cache of review answers with a lifetime per answer
 * (allowed answers live longer than denied ones, so a freshly granted
 * RoleBinding is seen within seconds). Insertion order is eviction order:
 * when full, the oldest entry goes. Expired entries are dropped when read.
 */
export interface DecisionCache<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  readonly size: number;
}

export interface DecisionCacheOptions<V> {
  readonly max: number;
  readonly ttlMs: (value: V) => number;
  readonly now?: () => number;
}

export function createDecisionCache<V>(options: DecisionCacheOptions<V>): DecisionCache<V> {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: V; expires: number }>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.expires <= now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value) {
      const ttl = options.ttlMs(value);
      entries.delete(key);
      if (ttl <= 0) return;
      while (entries.size >= options.max) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
      entries.set(key, { value, expires: now() + ttl });
    },
    get size() {
      return entries.size;
    },
  };
}

/**
 * The reviews being asked right now, so callers with the same key share one
 * API call: N requests with a new token that arrive before its first answer
 * would otherwise send N TokenReviews. An entry goes when its call settles,
 * answer or error, so a failure reaches every waiter and is never kept; when
 * `max` calls are in flight, a further key is asked for alone, unshared.
 */
export interface InFlightReviews<V> {
  /** The pending call for `key` if there is one, else `call()`, shared until it settles. */
  run(key: string, call: () => Promise<V>): Promise<V>;
  readonly size: number;
}

export function createInFlightReviews<V>(max: number): InFlightReviews<V> {
  const pending = new Map<string, Promise<V>>();
  return {
    run(key, call) {
      const shared = pending.get(key);
      if (shared !== undefined) return shared;
      if (pending.size >= max) return call();
      // `finally` runs before the returned promise settles: no caller is handed a settled call.
      const started = call().finally(() => pending.delete(key));
      pending.set(key, started);
      return started;
    },
    get size() {
      return pending.size;
    },
  };
}
