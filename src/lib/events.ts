/**
 * Where the agent reports things a cluster operator should see
 * (Kubernetes Events in the agent; nothing in tests or CLI commands). Callers
 * report a condition when it appears, not on every resync; the Kubernetes
 * implementation also rate-limits and deduplicates.
 */
export interface EventSink {
  warning(reason: string, message: string): void;
  normal(reason: string, message: string): void;
}

export const noEvents: EventSink = { warning: () => undefined, normal: () => undefined };
