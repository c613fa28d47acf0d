import type { Config } from '../config/schema.js';
import type { KubeClient } from '../kube/client.js';
import type { TrustSource } from '../trust/sources/source.js';
import { readContainerdVersion } from './containerd-version.js';
import { unreachableServiceAddresses } from './hosts.js';
import { createKubeServiceAddresses } from './kube-lookups.js';
import type { DoctorReport } from './report.js';
import { runDoctor } from './run.js';
import { createRegistryProbeCheck } from './registry-probe.js';
import type { RegistryProbeCheck } from './tls.js';

/**
 * Doctor with its real edges: the given trust source (the agent's own, or a
 * one-shot reader in the CLI), Service lookups through the API when there is
 * a client, `containerd --version` through `pull.hostExec`.
 */
export function createDoctorRunner(o: {
  config: Config;
  source: TrustSource;
  kube: KubeClient | undefined;
  kubeProblem?: string;
  probe?: RegistryProbeCheck;
}): () => Promise<DoctorReport> {
  const services =
    o.kube === undefined
      ? unreachableServiceAddresses(o.kubeProblem ?? 'no Kubernetes client configured')
      : createKubeServiceAddresses(o.kube);
  return () =>
    runDoctor({
      config: o.config,
      source: o.source,
      services,
      containerdVersion: () => readContainerdVersion(o.config.pull.hostExec),
      ...probeFor(o.config, o.probe),
    });
}

/** The registry probe reads the ca.crt node-ca wrote; without a certs dir there is nothing to probe with. */
function probeFor(config: Config, probe: RegistryProbeCheck | undefined): { probe?: RegistryProbeCheck } {
  if (probe !== undefined) return { probe };
  const certsDir = config.trust.containerdCertsDir || config.trust.dockerCertsDir;
  return certsDir === '' ? {} : { probe: createRegistryProbeCheck(certsDir) };
}
