import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackupService, type BackupService } from '../../../src/backup/service.js';
import type { BackupJob } from '../../../src/backup/job.js';
import { createLogger } from '../../../src/lib/logger.js';

let root: string;
const services: BackupService[] = [];

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-order-'));
  await mkdir(path.join(root, 'src', 'd'), { recursive: true });
  await writeFile(path.join(root, 'src', 'd', 'a'), 'some bytes');
});
afterEach(async () => {
  for (const s of services.splice(0)) await s.stop();
  await rm(root, { recursive: true, force: true });
});

async function service(options: { now?: () => Date; dir?: string; stateDir?: string; source?: string } = {}): Promise<BackupService> {
  const s = await createBackupService({
    config: {
      nodeName: 'n1',
      nodeIP: '10.1.2.3',
      backup: {
        sources: { minio: options.source ?? path.join(root, 'src') },
        dir: options.dir ?? path.join(root, 'out'),
        stateDir: options.stateDir ?? path.join(root, 'state'),
        minFreePercent: 0,
      },
    },
    logger: createLogger({ level: 'silent' }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  services.push(s);
  return s;
}

const final = (job: BackupJob | undefined) => job !== undefined && ['Succeeded', 'Failed', 'Canceled'].includes(job.phase);

/** What an orchestrator does: poll the job as GET shows it until it is final. */
async function pollUntilFinal(backups: BackupService, id: string): Promise<BackupJob> {
  for (;;) {
    const job = await backups.get(id);
    if (job !== undefined && final(job)) return job;
    await new Promise((r) => setImmediate(r));
  }
}

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

describe('backup service: job order', () => {
  it('lists jobs newest first by creation when the clock stands still, and after a restart with the clock set back', async () => {
    const stopped = new Date('2026-11-23T09:18:00.123Z');
    const backups = await service({ now: () => stopped });
    const made: string[] = [];
    for (let i = 0; i < 6; i++) {
      const job = await backups.start({});
      made.push(job.id);
      expect((await backups.wait(job.id))?.phase).toBe('Succeeded');
    }
    expect((await backups.list()).map((j) => j.id)).toEqual([...made].reverse());
    await backups.stop();

    const restarted = await service({ now: () => new Date('2026-11-23T08:00:00.000Z') });
    const after = await restarted.start({});
    await restarted.wait(after.id);
    expect((await restarted.list()).map((j) => j.id)).toEqual([after.id, ...made.reverse()]);
  });
});

describe('backup service: the end of a job', () => {
  it('frees the node before the job shows final: polling until final and starting again never meets BACKUP_RUNNING', async () => {
    const backups = await service();
    let job = await backups.start({});
    for (let i = 0; i < 10; i++) {
      expect((await pollUntilFinal(backups, job.id)).phase).toBe('Succeeded');
      job = await backups.start({});
    }
    await backups.wait(job.id);
  });
});

describe('backup service: publishing', () => {
  it('keeps the old archive and sidecars when a sidecar cannot be replaced', async () => {
    const backups = await service();
    const first = await backups.wait((await backups.start({})).id);
    expect(first?.phase).toBe('Succeeded');
    const archive = first?.archivePath ?? '';
    const before = { archive: await sha256(archive), manifest: await readFile(`${archive}.manifest`, 'utf8') };
    expect(before.archive).toBe(first?.archive?.sha256);

    await writeFile(path.join(root, 'src', 'd', 'a'), 'other bytes');
    await rm(`${archive}.sha256`);
    await mkdir(`${archive}.sha256`);
    const second = await backups.wait((await backups.start({})).id);
    expect(second).toMatchObject({ phase: 'Failed', error: { code: 'INTERNAL' } });
    expect(await sha256(archive)).toBe(before.archive);
    expect(second?.error?.message).toMatch(/is a directory.*previous archive and its sidecars are kept/);
    expect(await readFile(`${archive}.manifest`, 'utf8')).toBe(before.manifest);
    expect((await readdir(path.dirname(archive))).sort()).toEqual(['10.1.2.3-minio.tar', '10.1.2.3-minio.tar.manifest', '10.1.2.3-minio.tar.sha256']);
  });
});

describe('backup service: another process holding the lock', () => {
  /** A live process whose pid holds the lock, as a CLI backup would. */
  async function holdLock(jobs: unknown[]) {
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    await mkdir(path.join(root, 'state'), { recursive: true });
    await writeFile(path.join(root, 'state', 'backup.lock'), String(other.pid));
    await writeFile(path.join(root, 'state', 'backup-jobs.json'), JSON.stringify({ jobs }));
    return other;
  }
  const record = (phase: string) => ({ id: '20261204T170000000Z-0000000a', node: 'n1', source: 'minio', sourceDir: path.join(root, 'src'), archivePath: path.join(root, 'out', '10.1.2.3-minio.tar'), phase, startTime: '2026-12-04T17:00:00.000Z', progress: { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 } });

  it('waits a moment for a holder whose job is already final on record, then starts', async () => {
    const other = await holdLock([record('Succeeded')]);
    const backups = await service();
    setTimeout(() => other.kill('SIGKILL'), 300);
    const t0 = performance.now();
    const job = await backups.start({});
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect((await pollUntilFinal(backups, job.id)).phase).toBe('Succeeded');
  });

  it('answers BACKUP_RUNNING at once while the holder\'s job is running', async () => {
    const other = await holdLock([record('Running')]);
    try {
      const backups = await service();
      const t0 = performance.now();
      await expect(backups.start({})).rejects.toMatchObject({ code: 'BACKUP_RUNNING', details: { jobId: '20261204T170000000Z-0000000a', pid: other.pid } });
      expect(performance.now() - t0).toBeLessThan(500);
    } finally {
      other.kill('SIGKILL');
    }
  });
});

describe('backup service: preflight', () => {
  it('refuses a backup dir that became a symlink into the source, naming the key', async () => {
    const link = path.join(root, 'out-link');
    const backups = await service({ dir: link });
    await mkdir(path.join(root, 'src', 'backups'));
    await symlink(path.join(root, 'src', 'backups'), link);
    await expect(backups.start({})).rejects.toMatchObject({ code: 'BACKUP_DIR_INSIDE_SOURCE', message: expect.stringMatching(/backup\.dir: .*out-link \(.*src\/backups\) is inside backup\.sources\.minio/) as unknown });
    expect(await readdir(path.join(root, 'src', 'backups'))).toEqual([]);
  });

  it('refuses a state dir inside the source, naming the key', async () => {
    const backups = await service({ stateDir: path.join(root, 'src', '.node-ca') });
    await expect(backups.start({})).rejects.toMatchObject({ code: 'BACKUP_DIR_INSIDE_SOURCE', message: expect.stringMatching(/backup\.stateDir: .* is inside backup\.sources\.minio/) as unknown });
  });

  it('refuses a source holding a name that is not UTF-8, showing its bytes, and writes nothing', async () => {
    await writeFile(Buffer.concat([Buffer.from(path.join(root, 'src', 'd', 'caf')), Buffer.from([0xe9])]), 'latin1 name');
    const backups = await service();
    await expect(backups.start({})).rejects.toMatchObject({ code: 'SOURCE_UNSUPPORTED_NAME', message: expect.stringContaining('d/caf\\xe9: a file name that is not UTF-8') as unknown });
    expect(await backups.list()).toEqual([]);
    expect(await readdir(path.join(root, 'out'))).toEqual([]);
    // The node is free again.
    await rm(Buffer.concat([Buffer.from(path.join(root, 'src', 'd', 'caf')), Buffer.from([0xe9])]));
    const job = await backups.start({});
    expect((await pollUntilFinal(backups, job.id)).phase).toBe('Succeeded');
  });

  it('says a symlinked source is a symlink, and where it points', async () => {
    const link = path.join(root, 'src-link');
    await symlink(path.join(root, 'src'), link);
    const backups = await service({ source: link });
    await expect(backups.start({})).rejects.toMatchObject({
      code: 'SOURCE_MISSING',
      message: `backup source ${link} is a symlink; configure the directory it points to (${path.join(root, 'src')})`,
    });
  });
});
