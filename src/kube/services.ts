import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import type { BackoffPolicy } from './backoff.js';
import type { KubeClient } from './client.js';
import { createObjectWatch, type ObjectWatch } from './watch.js';
import type { V1Service } from '@kubernetes/client-node';

/** A watched Service, in the shape the hosts manager reads (`ServiceSource`). */
export interface WatchedService {
  readonly ref: { readonly namespace: string; readonly name: string };
  readonly watch: ObjectWatch<V1Service>;
  synced(): boolean;
  current(): V1Service | undefined;
}

/** One single-object watch per configured Service. */
export function createServiceWatches(o: {
  client: KubeClient;
  services: readonly { namespace: string; name: string }[];
  onChange: () => void;
  logger: Logger;
  metrics: Metrics;
  backoff?: BackoffPolicy;
}): WatchedService[] {
  return o.services.map((ref) => {
    const watch = createObjectWatch({
      ...o,
      resource: 'services',
      namespace: ref.namespace,
      name: ref.name,
    });
    return { ref, watch, synced: () => watch.state().synced, current: () => watch.current() };
  });
}
