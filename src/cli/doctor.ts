import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createConfigMapReadOnce } from '../doctor/kube-lookups.js';
import { renderReportText } from '../doctor/report.js';
import { createDoctorRunner } from '../doctor/wiring.js';
import { createKubeClient, type KubeClient } from '../kube/client.js';
import { errorMessage } from '../lib/errors.js';
import { createDirectorySource } from '../trust/sources/directory.js';
import { SourceUnavailableError, type TrustSource } from '../trust/sources/source.js';
import { configEnv } from './env.js';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'node trust diagnostics: containerd config, certs.d files, CA expiry, TLS to each registry, /etc/hosts; exit 1 when a check fails',
    )
    .option('--config <file>', "YAML configuration file (the agent's)")
    .option('--json', 'print the report as JSON')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const config = await loadConfig(opts.config, configEnv());
      const kube = tryKubeClient(config);
      const run = createDoctorRunner({
        config,
        source: doctorSource(config, kube),
        kube: kube.client,
        kubeProblem: kube.problem,
      });
      const report = await run();
      process.stdout.write(
        opts.json === true
          ? `${JSON.stringify(report, null, 2)}\n`
          : renderReportText(report, { color: process.stdout.isTTY }),
      );
      process.exitCode = report.ok ? 0 : 1;
    });
}

/** The API is optional for doctor: without it the checks that need it say why. */
function tryKubeClient(config: Config): { client: KubeClient | undefined; problem: string } {
  const needed =
    config.trust.sourceDir === undefined ||
    (config.hosts.file !== '' && config.hosts.services.length > 0);
  if (!needed) return { client: undefined, problem: 'not needed' };
  try {
    return { client: createKubeClient({ kubeconfig: config.kubeconfig }), problem: '' };
  } catch (err) {
    return { client: undefined, problem: errorMessage(err) };
  }
}

/** The agent's source, read once: the mounted directory, else the ConfigMap through the API. */
function doctorSource(
  config: Config,
  kube: { client: KubeClient | undefined; problem: string },
): TrustSource {
  if (config.trust.sourceDir !== undefined) return createDirectorySource(config.trust.sourceDir);
  if (kube.client !== undefined)
    return createConfigMapReadOnce(kube.client, config.trust.configMap);
  const { namespace, name } = config.trust.configMap;
  return {
    description: `configmap ${namespace}/${name}`,
    start: () => Promise.resolve(),
    read: () => Promise.reject(new SourceUnavailableError(`no Kubernetes API: ${kube.problem}`)),
    stop: () => Promise.resolve(),
  };
}
