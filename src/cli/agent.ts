import type { Command } from 'commander';
import { startAgent } from '../agent.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../lib/logger.js';
import { commandPath, configEnv, logLevel } from './env.js';
import { startUntilSignal } from './lifecycle.js';

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run the node agent (the DaemonSet container command)')
    .option('--config <file>', 'YAML configuration file')
    .action(async (opts: { config?: string }) => {
      const config = await loadConfig(opts.config, configEnv());
      const logger = createLogger({ level: logLevel() });
      await startUntilSignal(() => {
        // Logged with the signal handlers in place: from here on, SIGTERM stops cleanly.
        logger.info({ node: config.nodeName }, 'node-ca agent starting');
        return startAgent({ config, logger, commandPath: commandPath() });
      }, logger);
    });
}
