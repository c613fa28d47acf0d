import type { BackupJob } from '../backup/job.js';

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? String(v) : v.toFixed(1)} ${units[i] ?? 'B'}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** One progress line: bar (when `width` > 0), bytes, files, rate, ETA. */
export function formatProgress(job: BackupJob, elapsedSeconds: number, width = 0): string {
  const { bytesDone, bytesTotal, filesDone, filesTotal } = job.progress;
  const ratio = bytesTotal > 0 ? Math.min(1, bytesDone / bytesTotal) : 0;
  const rate = elapsedSeconds > 0 ? bytesDone / elapsedSeconds : 0;
  const eta = rate > 0 ? (bytesTotal - bytesDone) / rate : Number.NaN;
  const bar = width > 0 ? `[${'#'.repeat(Math.round(ratio * width)).padEnd(width, '-')}] ` : '';
  const phase = job.phase === 'Verifying' ? 'verifying' : `${(ratio * 100).toFixed(0).padStart(3)}%`;
  return `${bar}${phase} ${formatBytes(bytesDone)}/${formatBytes(bytesTotal)}  ${filesDone}/${filesTotal} files  ${formatBytes(rate)}/s  ETA ${formatDuration(eta)}`;
}

function verdict(phase: BackupJob['phase'], matched: boolean): string {
  if (matched) return 'yes';
  // Succeeded without a match: allowChanges let the changes listed below through.
  return phase === 'Succeeded' ? 'yes, except the paths that changed while read (allowed)' : 'no';
}

/** The result a person reads at the end (and that replaces `ls -lh` against `du -sh`). */
export function formatSummary(job: BackupJob): string {
  const v = job.verification;
  const lines = [`backup ${job.id}: ${job.phase}${job.error ? ` (${job.error.code}: ${job.error.message})` : ''}`];
  if (job.phase === 'Succeeded') lines.push(`  archive     ${job.archivePath}`, `  sha256      ${job.archive?.sha256 ?? ''}`);
  if (job.archive) lines.push(`  size        ${job.archive.bytes} bytes (${formatBytes(job.archive.bytes)})`);
  if (v) {
    lines.push(
      `  expected    ${v.expectedArchiveBytes} bytes (predicted from the source)`,
      `  files       ${v.archiveFiles} in archive, ${v.sourceFiles} in source`,
      `  data        ${v.archiveBytes} bytes in archive, ${v.sourceBytes} in source (du: ${formatBytes(v.sourceDiskBytes)})`,
      `  verified    ${verdict(job.phase, v.matched)}`,
    );
    if (v.changedDuringBackup.length > 0)
      lines.push(`  changed     ${v.changedDuringBackup.length} paths while reading, e.g. ${v.changedDuringBackup.slice(0, 3).join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
