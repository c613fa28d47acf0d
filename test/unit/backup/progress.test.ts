import { describe, expect, it } from 'vitest';
import type { BackupJob } from '../../../src/backup/job.js';
import { formatBytes, formatDuration, formatProgress } from '../../../src/cli/progress.js';

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
