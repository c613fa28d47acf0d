import type { Command } from 'commander';
import { createBackupService } from '../backup/service.js';
import type { BackupJob } from '../backup/job.js';
import { loadConfig } from '../config/load.js';
import { createLogger } from '../lib/logger.js';
import { configEnv } from './env.js';
import { formatProgress, formatSummary } from './progress.js';

interface BackupOptions {
  config?: string;
  source: string;
  allowChanges?: boolean;
}

/** `node-ca backup`: the agent's backup job, in this process; exit 0 only when it succeeded verified. */
export function registerBackupCommand(program: Command): void {
  program
    .command('backup')
    .description('back up a source (default minio) on this node with a progress bar; exit 0 only if verified')
    .option('--config <file>', 'YAML configuration file')
    .option('--source <name>', 'backup source', 'minio')
    .option('--allow-changes', 'succeed even when files change while read (a live MinIO)')
    .action(async (opts: BackupOptions) => {
      const config = await loadConfig(opts.config, configEnv());
      const logger = createLogger({ level: 'warn' });
      const backups = await createBackupService({ config, logger });
      const job = await backups.start({ source: opts.source, allowChanges: opts.allowChanges ?? false });
      const out = process.stderr;
      out.write(`backing up ${job.sourceDir} to ${job.archivePath}\n`);
      const stopProgress = showProgress(backups.onUpdate.bind(backups), job, out);
      const cancel = () => void backups.cancel(job.id);
      process.once('SIGINT', cancel);
      process.once('SIGTERM', cancel);
      const final = (await backups.wait(job.id)) ?? job;
      stopProgress();
      process.stdout.write(formatSummary(final));
      process.exitCode = final.phase === 'Succeeded' ? 0 : 1;
    });
}

/** A redrawn bar on a terminal, a plain line every 10 s otherwise. */
function showProgress(onUpdate: (l: (job: BackupJob) => void) => () => void, first: BackupJob, out: NodeJS.WriteStream): () => void {
  const started = Date.now();
  let latest = first;
  const unsubscribe = onUpdate((job) => (latest = job));
  const tty = out.isTTY;
  const draw = () => {
    const line = formatProgress(latest, (Date.now() - started) / 1000, tty ? 30 : 0);
    out.write(tty ? `\r${line.slice(0, (out.columns || 120) - 1)}\x1b[K` : `${line}\n`);
  };
  const timer = setInterval(draw, tty ? 200 : 10_000);
  return () => {
    clearInterval(timer);
    unsubscribe();
    draw();
    if (tty) out.write('\n');
  };
}
