import type { KubeClient } from '../kube/client.js';
import { describeApiError } from '../kube/errors.js';
import { SourceUnavailableError, type TrustSource } from '../trust/sources/source.js';
import type { ServiceAddresses } from './hosts.js';

const isNotFound = (err: unknown) => (err as { code?: unknown } | null)?.code === 404;

/** A Service's ClusterIPs with one GET (doctor runs once; no watch needed). */
export function createKubeServiceAddresses(kube: KubeClient): ServiceAddresses {
  return {
    async lookup(namespace, name) {
      try {
        const svc = await kube.core.readNamespacedService({ namespace, name });
        const spec = svc.spec;
        // clusterIPs holds one address per family (dual-stack); "None" is a headless Service.
        const ips = (spec?.clusterIPs?.length ? spec.clusterIPs : [spec?.clusterIP ?? '']).filter(
          (ip) => ip !== '' && ip !== 'None',
        );
        return { state: 'found', ips };
      } catch (err) {
        if (isNotFound(err)) return { state: 'not-found' };
        return { state: 'unreachable', reason: describeApiError(err) };
      }
    },
  };
}

/** The API trust source for a one-shot run: `read()` GETs the ConfigMap (the agent's source needs a running watch). */
export function createConfigMapReadOnce(
  kube: KubeClient,
  ref: { namespace: string; name: string },
): TrustSource {
  const id = `${ref.namespace}/${ref.name}`;
  return {
    description: `configmap ${id}`,
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    async read() {
      try {
        const cm = await kube.core.readNamespacedConfigMap(ref);
        return {
          entries: new Map(Object.entries(cm.data ?? {})),
          revision: cm.metadata?.resourceVersion ?? '',
        };
      } catch (err) {
        const why = isNotFound(err)
          ? 'does not exist'
          : `cannot be read (${describeApiError(err)})`;
        throw new SourceUnavailableError(`ConfigMap ${id} ${why}`, { cause: err });
      }
    },
  };
}
