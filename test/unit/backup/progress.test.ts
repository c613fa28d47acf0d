import { describe, expect, it } from 'vitest';
import type { BackupJob } from '../../../src/backup/job.js';
import { formatBytes, formatDuration, formatProgress, formatSummary } from '../../../src/cli/progress.js';

const job = {
  phase: 'Running',
  progress: { bytesDone: 512 * 1024 * 1024, bytesTotal: 1024 * 1024 * 1024, filesDone: 10, filesTotal: 20 },
} as BackupJob;

describe('backup progress line', () => {
  it('shows a bar, bytes, files, rate and ETA', () => {
    expect(formatProgress(job, 2, 10)).toBe('[#####-----]  50% 512.0 MiB/1.0 GiB  10/20 files  256.0 MiB/s  ETA 00:02');
  });
  it('formats sizes and durations', () => {
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Number.NaN)).toBe('--:--');
  });
});

describe('backup summary', () => {
  const verification = { sourceFiles: 2, sourceBytes: 10, sourceDiskBytes: 8192, archiveFiles: 2, archiveBytes: 10, expectedArchiveBytes: 10240, matched: false, changedDuringBackup: ['.', 'a'] };
  const ended = (phase: BackupJob['phase']) => ({ ...job, id: 'j', phase, archivePath: '/b/x.tar', archive: { bytes: 10240, sha256: 'ab' }, verification }) as BackupJob;

  it('says which paths changed, and does not call an allowed-changes success unverified', () => {
    const ok = formatSummary(ended('Succeeded'));
    expect(ok).toMatch(/verified {4}yes, except the paths that changed while read \(allowed\)\n/);
    expect(ok).toContain('2 paths while reading, e.g. ., a');
    expect(formatSummary(ended('Failed'))).toMatch(/verified {4}no\n/);
    expect(formatSummary({ ...ended('Succeeded'), verification: { ...verification, matched: true, changedDuringBackup: [] } })).toMatch(/verified {4}yes\n/);
  });
});
