import { isIP } from 'node:net';

/** A Service named in `hosts.services`. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

/** The fields of a Kubernetes Service the hosts manager reads. */
export interface ServiceShape {
  readonly spec?: {
    readonly type?: string;
    readonly clusterIP?: string;
    readonly clusterIPs?: readonly string[];
  };
}

/**
 * What to do for one Service:
 * - `mapped`: write one line per ClusterIP;
 * - `absent` (deleted), `headless`, `externalName`: no lines (the last two are reported);
 * - `unknown`: the API never answered; keep whatever lines exist.
 */
export type ServiceState = 'mapped' | 'absent' | 'headless' | 'externalName' | 'unknown';

export interface ServiceHostsPlan {
  readonly ref: ServiceRef;
  readonly state: ServiceState;
  readonly ips: readonly string[];
  /** `<svc>.<ns>.svc` and `<svc>.<ns>.svc.<clusterDomain>`. */
  readonly names: readonly [string, string];
}

export function serviceNames(ref: ServiceRef, clusterDomain: string): [string, string] {
  const short = `${ref.name}.${ref.namespace}.svc`;
  return [short, `${short}.${clusterDomain}`];
}

/** Plans one Service from what the watch knows (`synced` false: never listed). */
export function planServiceHosts(
  ref: ServiceRef,
  known: { synced: boolean; service: ServiceShape | undefined },
  clusterDomain: string,
): ServiceHostsPlan {
  const names = serviceNames(ref, clusterDomain);
  const plan = (state: ServiceState, ips: readonly string[] = []) => ({ ref, state, ips, names });
  if (!known.synced) return plan('unknown');
  const spec = known.service?.spec;
  if (known.service === undefined || spec === undefined) return plan('absent');
  if (spec.type === 'ExternalName') return plan('externalName');
  // clusterIPs holds one address per family (dual-stack); clusterIP is its first, kept by older servers only.
  const ips = (spec.clusterIPs?.length ? spec.clusterIPs : [spec.clusterIP ?? '']).filter(
    (ip) => isIP(ip) !== 0,
  );
  return ips.length === 0 ? plan('headless') : plan('mapped', ips);
}
