import { fail, ok, warn, type CheckResult } from './check.js';
import { namesAny, parseHostsLines, sameName, type HostsLine } from './hosts-lines.js';

/** A Service's current ClusterIPs as the API says, or why that is unknown. */
export type ServiceAddressesResult =
  | { readonly state: 'found'; readonly ips: readonly string[] }
  | { readonly state: 'not-found' }
  | { readonly state: 'unreachable'; readonly reason: string };

/** Looks a Service's ClusterIPs up (implemented with the Kubernetes client). */
export interface ServiceAddresses {
  lookup(namespace: string, name: string): Promise<ServiceAddressesResult>;
}

/** For when no API client can be built: every lookup is `unreachable`. */
export function unreachableServiceAddresses(reason: string): ServiceAddresses {
  return { lookup: () => Promise.resolve({ state: 'unreachable', reason }) };
}

export interface HostsServiceInput {
  readonly namespace: string;
  readonly name: string;
  /** `<svc>.<ns>.svc` and `<svc>.<ns>.svc.<clusterDomain>`. */
  readonly names: readonly string[];
  readonly addresses: ServiceAddressesResult;
}

/**
 * /etc/hosts: each configured Service's names map (through node-ca's lines)
 * to its current ClusterIPs, and no other line names them: glibc answers
 * with the first matching line, so a stale hand-written line above ours wins.
 */
export function checkHostsFile(
  file: string,
  content: string | undefined,
  services: readonly HostsServiceInput[],
  agentNamespace: string,
): CheckResult[] {
  if (content === undefined)
    return [
      fail(
        'hosts.service',
        file,
        'hosts file not found',
        `check hosts.file in the node-ca config (${file})`,
      ),
    ];
  const lines = parseHostsLines(content);
  return services.flatMap((s) => [
    ...checkService({ file, agentNamespace }, lines, s),
    ...checkOthers(file, lines, s),
  ]);
}

function checkService(
  at: { file: string; agentNamespace: string },
  lines: readonly HostsLine[],
  s: HostsServiceInput,
): CheckResult[] {
  const { file, agentNamespace } = at;
  const a = s.addresses;
  return s.names.map((name) => {
    const mapped = [
      ...new Set(lines.filter((l) => l.managed && namesAny(l, [name])).map((l) => l.ip)),
    ].sort();
    const subject = `${file}: ${name}`;
    const shown = mapped.length === 0 ? 'no node-ca line' : mapped.join(', ');
    if (a.state === 'unreachable')
      return mapped.length === 0
        ? fail(
            'hosts.service',
            subject,
            `no node-ca line maps ${name} (Kubernetes API unreachable: ${a.reason})`,
            `check the node-ca agent and its API access: kubectl -n ${s.namespace} get svc ${s.name}`,
          )
        : warn(
            'hosts.service',
            subject,
            `maps to ${shown}; cannot compare with the Service (Kubernetes API unreachable: ${a.reason})`,
            `check API access from this node: kubectl -n ${s.namespace} get svc ${s.name}`,
          );
    const want = a.state === 'found' ? [...a.ips].sort() : [];
    if (same(mapped, want))
      return ok(
        'hosts.service',
        subject,
        want.length === 0
          ? `Service ${s.namespace}/${s.name} not found and no node-ca line`
          : `maps to the Service's ClusterIP ${want.join(', ')}`,
      );
    const expected =
      a.state === 'found'
        ? `Service ${s.namespace}/${s.name} has ClusterIP ${want.join(', ') || 'none'}`
        : `Service ${s.namespace}/${s.name} does not exist`;
    return fail(
      'hosts.service',
      subject,
      `maps to ${shown}; ${expected}`,
      `node-ca rewrites its lines when it runs; check its pod on this node: kubectl -n ${agentNamespace} get pods -l app.kubernetes.io/name=node-ca -o wide; and the Service: kubectl -n ${s.namespace} get svc ${s.name}`,
    );
  });
}

function checkOthers(
  file: string,
  lines: readonly HostsLine[],
  s: HostsServiceInput,
): CheckResult[] {
  const known = new Set(
    s.addresses.state === 'found'
      ? s.addresses.ips
      : lines.filter((l) => l.managed && namesAny(l, s.names)).map((l) => l.ip),
  );
  const others = lines.filter((l) => !l.managed && namesAny(l, s.names));
  if (others.length === 0)
    return [
      ok('hosts.duplicate', `${file}: ${s.names[0] ?? s.name}`, 'no other line names the Service'),
    ];
  return others.map((l) => {
    const subject = `${file}:${l.lineNo}`;
    const remedy = `delete line ${l.lineNo} (${l.ip} ${l.names.join(' ')}): sed -i '${l.lineNo}d' ${file}`;
    if (known.has(l.ip))
      return warn(
        'hosts.duplicate',
        subject,
        `unmanaged line duplicates node-ca's mapping to ${l.ip}; it goes stale when the ClusterIP changes`,
        remedy,
      );
    return fail(
      'hosts.duplicate',
      subject,
      `unmanaged line maps ${l.names.filter((n) => s.names.some((w) => sameName(n, w))).join(' ')} to ${l.ip}, not the Service's address; the resolver may answer with it`,
      remedy,
    );
  });
}

function same(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
