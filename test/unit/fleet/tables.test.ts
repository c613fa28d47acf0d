import { describe, expect, it } from 'vitest';
import type { AgentBackupJob } from '../../../src/fleet/agent-api.js';
import { pullCheckRows } from '../../../src/fleet/pull-check.js';
import {
  backupRows,
  formatBytes,
  formatDuration,
  renderTable,
  statusRows,
} from '../../../src/fleet/tables.js';
import { formatProgressLine } from '../../../src/fleet/progress.js';

const job: AgentBackupJob = {
  id: 'j1',
  node: 'cp1',
  source: 'minio',
  archivePath: '/cpaas/backup/10.0.0.1-minio.tar',
  phase: 'Succeeded',
  startTime: '2026-11-23T10:00:00.000Z',
  completionTime: '2026-11-23T10:01:15.000Z',
  progress: { bytesDone: 2048, bytesTotal: 2048, filesDone: 3, filesTotal: 3 },
  archive: { bytes: 10240, sha256: 'abcdef0123456789'.repeat(4) },
  verification: { archiveFiles: 3, archiveBytes: 2048, matched: true, changedDuringBackup: [] },
};

describe('renderTable', () => {
  it('pads columns to the widest cell and trims trailing blanks', () => {
    expect(
      renderTable(
        ['A', 'LONG'],
        [
          ['xyz', ''],
          ['1', '2'],
        ],
      ),
    ).toBe('A    LONG\nxyz\n1    2\n');
  });
});

describe('formatBytes / formatDuration', () => {
  it.each([
    [0, '0 B'],
    [1536, '1.5 KiB'],
    [5 * 1024 ** 3, '5.0 GiB'],
  ])('%i bytes → %s', (n, s) => {
    expect(formatBytes(n)).toBe(s);
  });
  it.each([
    [4200, '4.2s'],
    [75_000, '1m15s'],
    [3_723_000, '1h02m'],
  ])('%i ms → %s', (n, s) => {
    expect(formatDuration(n)).toBe(s);
  });
});

describe('backupRows', () => {
  it('shows phase, files, bytes, short sha256, start, end, duration; the error of a failed node', () => {
    const rows = backupRows([
      { node: 'cp1', ok: true, value: { node: 'cp1', job } },
      {
        node: 'cp2',
        ok: false,
        error: { code: 'AGENT_MISSING', message: 'no node-ca pod on node cp2' },
      },
      {
        node: 'cp3',
        ok: false,
        value: {
          node: 'cp3',
          job: { ...job, phase: 'Failed', error: { code: 'SOURCE_CHANGED', message: 'x changed' } },
        },
        error: { code: 'SOURCE_CHANGED', message: 'x changed' },
      },
    ]);
    expect(rows[0]).toEqual([
      'cp1',
      'Succeeded',
      '3',
      '10.0 KiB',
      'abcdef012345',
      job.startTime,
      job.completionTime,
      '1m15s',
      '',
    ]);
    expect(rows[1]).toEqual([
      'cp2',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      '-',
      'AGENT_MISSING: no node-ca pod on node cp2',
    ]);
    expect(rows[2]?.[1]).toBe('Failed');
    expect(rows[2]?.[8]).toBe('SOURCE_CHANGED: x changed');
  });
});

describe('pullCheckRows', () => {
  it('is a node × image grid of ok or the failure code', () => {
    const rows = pullCheckRows(
      ['r/a:1', 'r/b:1'],
      [
        {
          node: 'n1',
          ok: true,
          value: {
            node: 'n1',
            results: [
              { image: 'r/a:1', ok: true },
              { image: 'r/b:1', ok: true },
            ],
          },
        },
        {
          node: 'n2',
          ok: false,
          error: { code: 'PULL_FAILED', message: '' },
          value: {
            node: 'n2',
            results: [
              { image: 'r/a:1', ok: true },
              { image: 'r/b:1', ok: false, error: { code: 'X509_UNKNOWN_AUTHORITY', message: '' } },
            ],
          },
        },
        {
          node: 'n3',
          ok: false,
          error: { code: 'FORBIDDEN', message: 'HTTP 403 FORBIDDEN: denied', status: 403 },
        },
      ],
    );
    expect(rows).toEqual([
      ['n1', 'ok', 'ok'],
      ['n2', 'ok', 'X509_UNKNOWN_AUTHORITY'],
      ['n3', 'FORBIDDEN', 'FORBIDDEN'],
    ]);
  });
});

describe('statusRows', () => {
  it('flags drift and unreachable agents', () => {
    const v = {
      node: 'a',
      ready: true,
      lastSyncTime: 't',
      registries: 1,
      fingerprints: { reg: ['AB:CD:EF:01:23:45'] },
      drift: ['reg'],
    };
    const rows = statusRows([
      { node: 'a', ok: false, value: v, error: { code: 'CA_DRIFT', message: 'm' } },
      {
        node: 'b',
        ok: false,
        error: { code: 'UNREACHABLE', message: '10.0.0.2:9443: ECONNREFUSED' },
      },
    ]);
    expect(rows[0]).toEqual(['a', 'yes', 't', '1', 'reg=ABCDEF01', 'DRIFT reg']);
    expect(rows[1]?.[5]).toBe('UNREACHABLE: 10.0.0.2:9443: ECONNREFUSED');
  });
});

describe('formatProgressLine', () => {
  it('shows the bar, percent, bytes, rate and files of a running job', () => {
    const running = {
      ...job,
      phase: 'Running' as const,
      progress: { bytesDone: 512, bytesTotal: 2048, filesDone: 1, filesTotal: 3 },
    };
    expect(formatProgressLine('cp1', 4, { job: running, rate: 2048, note: '' })).toBe(
      'cp1   Running   [#####...............]  25% 512 B/2.0 KiB 2.0 KiB/s files 1/3',
    );
  });
});
