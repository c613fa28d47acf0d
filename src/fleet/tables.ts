import type { NodeBackupOutcome } from './backup.js';
import type { NodeResult } from './fan-out.js';
import type { NodeTrustSummary } from './status.js';

/** A plain-text table: columns padded to their widest cell, two spaces apart, no trailing blanks. */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

/** 75_000 → "1m15s", 4_200 → "4.2s". */
export function formatDuration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

/** Start to completion of a job, or "" while it has no end. */
export function jobDurationMs(
  job: { startTime: string; completionTime?: string } | undefined,
): number | undefined {
  if (job?.completionTime === undefined) return undefined;
  return Date.parse(job.completionTime) - Date.parse(job.startTime);
}

export const backupHeader = [
  'NODE',
  'PHASE',
  'FILES',
  'BYTES',
  'SHA256',
  'START',
  'END',
  'DURATION',
  'ERROR',
];

export function backupRows(results: readonly NodeResult<NodeBackupOutcome>[]): string[][] {
  return results.map((r) => [
    r.node,
    ...jobCells(r.value?.job),
    r.ok ? '' : describeFailure(r.error),
  ]);
}

function jobCells(job: NodeBackupOutcome['job']): string[] {
  if (job === undefined) return ['-', '-', '-', '-', '-', '-', '-'];
  const duration = jobDurationMs(job);
  return [
    job.phase,
    job.verification === undefined ? '-' : String(job.verification.archiveFiles),
    job.archive === undefined ? '-' : formatBytes(job.archive.bytes),
    job.archive?.sha256.slice(0, 12) ?? '-',
    job.startTime,
    job.completionTime ?? '-',
    duration === undefined ? '-' : formatDuration(duration),
  ];
}

export const statusHeader = ['NODE', 'READY', 'LAST SYNC', 'REGISTRIES', 'CA FINGERPRINTS', 'FLAG'];

export function statusRows(results: readonly NodeResult<NodeTrustSummary>[]): string[][] {
  return results.map((r) => {
    const v = r.value;
    const error = r.ok ? undefined : r.error;
    if (v === undefined) return [r.node, '-', '-', '-', '-', describeFailure(error)];
    const cas = Object.entries(v.fingerprints)
      .map(([host, fps]) => `${host}=${fps.map((f) => f.replace(/:/g, '').slice(0, 8)).join('+')}`)
      .join(' ');
    const flag = v.drift.length > 0 ? `DRIFT ${v.drift.join(',')}` : describeFailure(error);
    return [
      r.node,
      v.ready ? 'yes' : 'no',
      v.lastSyncTime ?? '-',
      String(v.registries),
      cas || '-',
      flag,
    ];
  });
}

export function describeFailure(
  error: { code: string; message: string; status?: number } | undefined,
): string {
  if (error === undefined) return '';
  return error.message.includes(error.code) ? error.message : `${error.code}: ${error.message}`;
}
