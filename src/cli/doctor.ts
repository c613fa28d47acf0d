import type { Command } from 'commander';
import { createTrustSource } from '../agent.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { errorMessage } from '../lib/errors.js';
import { readContainerdVersion } from '../doctor/containerd-version.js';
import { unreachableServiceAddresses } from '../doctor/hosts.js';
import { renderReportText } from '../doctor/report.js';
import { runDoctor } from '../doctor/run.js';
import type { TrustSource } from '../trust/sources/source.js';
import { configEnv } from './env.js';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('node trust diagnostics: containerd config, certs.d files, CA expiry, TLS to each registry, /etc/hosts; exit 1 when a check fails')
    .option('--config <file>', 'YAML configuration file (the agent\'s)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const config = await loadConfig(opts.config, configEnv());
      const report = await runDoctor({
        config,
        source: doctorSource(config),
        services: unreachableServiceAddresses('no Kubernetes client in this build'),
        containerdVersion: () => readContainerdVersion(config.pull.hostExec),
      });
      process.stdout.write(opts.json === true ? `${JSON.stringify(report, null, 2)}\n` : renderReportText(report, { color: process.stdout.isTTY }));
      process.exitCode = report.ok ? 0 : 1;
    });
}

/** The agent's own source; a source that cannot be built reads as unavailable (a failed check, not a crash). */
function doctorSource(config: Config): TrustSource {
  try {
    return createTrustSource(config);
  } catch (err) {
    const reason = errorMessage(err);
    return {
      description: 'trust source',
      start: () => Promise.resolve(),
      read: () => Promise.reject(new Error(reason)),
      stop: () => Promise.resolve(),
    };
  }
}
