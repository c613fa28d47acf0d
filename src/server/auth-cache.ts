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
