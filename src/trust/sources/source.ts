/**
 * A CA source: where the ConfigMap's keys come from. Two implement it, the
 * mounted directory (kubelet layout) and the API watch; both feed the same
 * reconcile. Sources are level-triggered: `onChange` only says "look again",
 * and the reconciler then reads the whole current state with `read()`, so a
 * lost or coalesced event is harmless.
 */
export interface TrustSource {
  /** For status and logs: `directory /path` or `configmap ns/name`. */
  readonly description: string;
  /** Starts watching; `onChange` is called (possibly in bursts) when something may have changed. */
  start(onChange: () => void): Promise<void>;
  /** The whole current content. Throws `SourceUnavailableError` when it cannot be known. */
  read(): Promise<TrustSnapshot>;
  stop(): Promise<void>;
}

export interface TrustSnapshot {
  /** key → value, exactly as in the ConfigMap. */
  readonly entries: ReadonlyMap<string, string>;
  /** Identifies this content (timestamped dir name, or resourceVersion). */
  readonly revision: string;
}

/**
 * The source cannot say what it holds (directory missing, API never
 * listed). Nothing on disk is changed then: an outage must never look like
 * "every key was removed".
 */
export class SourceUnavailableError extends Error {
  override readonly name = 'SourceUnavailableError';
}
