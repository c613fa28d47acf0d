import type { KubeClient } from '../../kube/client.js';
import { createObjectWatch, type WatchState } from '../../kube/watch.js';
import type { Logger } from '../../lib/logger.js';
import type { Metrics } from '../../lib/metrics.js';
import { SourceUnavailableError, type TrustSnapshot, type TrustSource } from './source.js';

export interface ConfigMapSourceOptions {
  readonly client: KubeClient;
  readonly namespace: string;
  readonly name: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * The CA ConfigMap read through an API watch (one object, field-selected).
 * It reacts within milliseconds of a change, where a mounted ConfigMap lags
 * by the kubelet's sync period (about a minute). Until the first list, and
 * while the ConfigMap does not exist, it is unavailable: nothing on disk is
 * touched then (deleting the ConfigMap, e.g. during a reinstall, must not
 * strip every node of its registry trust).
 */
export function createConfigMapSource(
  o: ConfigMapSourceOptions,
): TrustSource & { state(): WatchState } {
  const id = `${o.namespace}/${o.name}`;
  let notify: () => void = () => undefined;
  const watch = createObjectWatch({
    client: o.client,
    resource: 'configmaps',
    namespace: o.namespace,
    name: o.name,
    onChange: () => {
      notify();
    },
    logger: o.logger,
    metrics: o.metrics,
  });
  return {
    description: `configmap ${id}`,
    async start(onChange) {
      notify = onChange;
      await watch.start();
    },
    read(): Promise<TrustSnapshot> {
      const state = watch.state();
      if (!state.synced)
        return Promise.reject(
          new SourceUnavailableError(
            `ConfigMap ${id} not listed yet (API: ${state.lastError ?? 'connecting'})`,
          ),
        );
      const cm = watch.current();
      if (cm === undefined)
        return Promise.reject(new SourceUnavailableError(`ConfigMap ${id} does not exist`));
      // binaryData keys too, as the kubelet projects them into a mounted ConfigMap: both sources see the same keys.
      const binary = Object.entries(cm.binaryData ?? {}).map(([k, v]): [string, string] => [k, Buffer.from(v, 'base64').toString('utf8')]);
      const entries = new Map([...Object.entries(cm.data ?? {}), ...binary]);
      return Promise.resolve({ entries, revision: cm.metadata?.resourceVersion ?? '' });
    },
    stop: () => watch.stop(),
    state: () => watch.state(),
  };
}
