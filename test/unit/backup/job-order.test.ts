import { describe, expect, it } from 'vitest';
import { archiveName, capHistory, jobIdTime, newJobId, type BackupJob } from '../../../src/backup/job.js';

// The route's id pattern (src/server/routes/backups.ts).
const routeId = /^[0-9]{8}T[0-9]{6}([0-9]{3})?Z-[0-9a-f]{8}$/;

const job = (id: string): BackupJob => ({
  id,
  node: 'n',
  source: 'minio',
  sourceDir: '/cpaas/minio',
  archivePath: '/cpaas/backup/n-minio.tar',
  allowChanges: false,
  phase: 'Succeeded',
  startTime: '2026-11-23T00:00:00.000Z',
  progress: { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 },
});

/** Ids made one after another by `clock()`, each from the newest before it; random parts descending. */
function ids(count: number, clock: (i: number) => Date): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(newJobId(clock(i), out.at(-1), (0xffffffff - i).toString(16)));
  return out;
}

describe('backup job ids sort by creation', () => {
  it('orders ids made in the same millisecond by creation, not by their random part', () => {
    const made = ids(6, () => new Date('2026-11-23T09:18:00.123Z'));
    expect(new Set(made).size).toBe(6);
    expect(capHistory(made.map(job), 50).map((j) => j.id)).toEqual([...made].reverse());
    for (const id of made) expect(id).toMatch(routeId);
  });

  it('stays after the newest id on record when the clock is behind it (a restart, a clock set back)', () => {
    const newest = newJobId(new Date('2026-11-23T09:18:00.500Z'), undefined, 'ffffffff');
    const next = newJobId(new Date('2026-11-23T09:17:59.000Z'), newest, '00000000');
    expect(next > newest).toBe(true);
    expect(jobIdTime(next)).toBe(Date.parse('2026-11-23T09:18:00.501Z'));
    expect(newJobId(new Date('2026-11-23T10:00:00.000Z'), newest, '00000000')).toBe('20261123T100000000Z-00000000');
  });

  it('sorts a new id after an id of the second-precision form made in the same second', () => {
    const old = '20261123T091800Z-ffffffff';
    const next = newJobId(new Date('2026-11-23T09:18:00.010Z'), old, '00000000');
    expect(next).toBe('20261123T091801000Z-00000000');
    expect(capHistory([job(old), job(next)], 50).map((j) => j.id)).toEqual([next, old]);
    expect(jobIdTime('not-an-id')).toBeUndefined();
  });
});

describe('archive name', () => {
  it('refuses a node IP or name that would make it a path', () => {
    expect(() => archiveName({ nodeName: 'n', nodeIP: '10.0.0.1/24' }, 'minio')).toThrow(/would be a path/);
    expect(() => archiveName({ nodeName: '../x' }, 'minio')).toThrow(/would be a path/);
    expect(archiveName({ nodeName: 'n', nodeIP: 'fd00::1' }, 'minio')).toBe('fd00::1-minio.tar');
  });
});
