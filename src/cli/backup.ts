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
      const stopCancel = cancelOnSignals(() => void backups.cancel(job.id), out);
      const final = (await backups.wait(job.id)) ?? job;
      stopCancel();
      stopProgress();
      process.stdout.write(formatSummary(final));
      process.exitCode = final.phase === 'Succeeded' ? 0 : 1;
    });
}

/**
 * Ctrl-C or SIGTERM cancels the job (tar stopped, partials removed, the job
 * recorded Canceled); a second one quits at once. `process.on`, not `once`:
 * execa's exit hook re-raises a signal it believes nobody else handles, which
 * a handler that removed itself would no longer be.
 */
function cancelOnSignals(cancel: () => void, out: NodeJS.WriteStream): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received += 1;
    if (received > 1) process.exit(signal === 'SIGINT' ? 130 : 143);
    out.write(`\n${signal}: canceling the backup (stopping tar, removing the partial archive); again to quit at once\n`);
    cancel();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
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
