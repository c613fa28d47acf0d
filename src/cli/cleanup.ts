import path from 'node:path';
import type { Command } from 'commander';
import { certsDirTargets } from '../agent.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { removeHostsLines } from '../hosts/cleanup.js';
import { errorMessage } from '../lib/errors.js';
import { readCertsDir, removeLeftovers, removeOwnedDir } from '../trust/apply.js';
import { isOwnedEntry, writtenFiles, type CertsDirFlavor } from '../trust/plan.js';
import { configEnv } from './env.js';

/** What cleanup did: one line per removal, kept directory or failure. */
export interface CleanupReport {
  readonly removed: string[];
  readonly kept: string[];
  readonly failed: string[];
}

/**
 * For uninstall: removes what the agent owns on this node — host directories
 * with the `.node-ca` marker in each certs dir, and the `# node-ca` lines of
 * the hosts file — and nothing else. Run it with the agent stopped (or
 * before deleting the DaemonSet, so nothing writes them back afterwards).
 */
export function registerCleanupCommand(program: Command): void {
  program
    .command('cleanup')
    .description('remove the certs.d directories and /etc/hosts lines node-ca owns, nothing else (for uninstall)')
    .option('--config <file>', 'YAML configuration file (the agent\'s)')
    .action(async (opts: { config?: string }) => {
      const config = await loadConfig(opts.config, configEnv());
      const report = await cleanupNode(config);
      process.stdout.write(renderReport(report));
      if (report.failed.length > 0) process.exitCode = 1;
    });
}

export async function cleanupNode(config: Config): Promise<CleanupReport> {
  const report: CleanupReport = { removed: [], kept: [], failed: [] };
  for (const { dir, flavor } of certsDirTargets(config)) await cleanupCertsDir(dir, flavor, report);
  if (config.hosts.file !== '') await cleanupHostsFile(config.hosts.file, report);
  return report;
}

async function cleanupCertsDir(dir: string, flavor: CertsDirFlavor, report: CleanupReport): Promise<void> {
  try {
    await removeLeftovers(dir);
    const owned = (await readCertsDir(dir)).filter(isOwnedEntry);
    for (const entry of owned) {
      const hostDir = path.join(dir, entry.name);
      const { conflict } = await removeOwnedDir(hostDir, writtenFiles(flavor));
      if (conflict === undefined) report.removed.push(`removed ${hostDir}`);
      else report.kept.push(`kept ${hostDir}: ${conflict}`);
    }
  } catch (err) {
    report.failed.push(`failed in ${dir}: ${errorMessage(err)}`);
  }
}

async function cleanupHostsFile(file: string, report: CleanupReport): Promise<void> {
  try {
    const lines = await removeHostsLines(file);
    for (const line of lines) report.removed.push(`removed from ${file}: ${line}`);
  } catch (err) {
    report.failed.push(`failed on ${file}: ${errorMessage(err)}`);
  }
}

export function renderReport(report: CleanupReport): string {
  const lines = [...report.removed, ...report.kept, ...report.failed];
  if (lines.length === 0) lines.push('nothing to remove: no directory or hosts line owned by node-ca');
  return `${lines.join('\n')}\n`;
}
