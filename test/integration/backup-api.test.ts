import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess } from '../support/agent.js';
import { agentJson, backupAgentConfig, findCount, makeTree, writeGatedTar } from '../support/backup.js';
import { isAlive, readPid } from '../support/pids.js';
import { waitFor } from '../support/poll.js';

interface Job {
  id: string;
  phase: string;
  archivePath: string;
  progress: { bytesDone: number; filesDone: number; filesTotal: number };
  archive?: { bytes: number; sha256: string };
  verification?: Record<string, unknown> & { changedDuringBackup: string[] };
  error?: { code: string };
}

let root: string;
let agent: AgentProcess | undefined;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-bk-'));
  await mkdir(path.join(root, 'ca'));
  await mkdir(path.join(root, 'src'));
});

afterEach(async () => {
  await agent?.stop('SIGKILL');
  agent = undefined;
  await rm(root, { recursive: true, force: true });
});

const api = (method: string, url: string, body?: unknown) => agentJson(agent?.url ?? '', method, url, body);

async function finished(id: string): Promise<Job> {
  return waitFor(
    async () => {
      const job = (await api('GET', `/v1/backups/${id}`)).body as unknown as Job;
      return ['Succeeded', 'Failed', 'Canceled'].includes(job.phase) ? job : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 50, message: `backup ${id} to finish` },
  );
}

describe('backup API (agent process, real GNU tar)', () => {
  it('backs up a hard tree exactly as tar -cf does, verified, restorable byte for byte', async () => {
    const src = path.join(root, 'src');
    await makeTree(src, 3000);
    agent = await startAgentProcess({ config: backupAgentConfig(root) });
    const started = await api('POST', '/v1/backups', {});
    expect(started.status).toBe(202);
    const id = String(started.body.id);
    expect(started.headers.get('location')).toBe(`/v1/backups/${id}`);
    const job = await finished(id);
    expect(job.phase, JSON.stringify(job.error)).toBe('Succeeded');
    expect(job.archivePath).toBe(path.join(root, 'backup', '10.1.2.3-minio.tar'));

    // Independent figures: find counts, a plain tar of the same tree, du.
    const plain = path.join(root, 'plain.tar');
    execFileSync('tar', ['-cf', plain, '-C', '/', src.slice(1)]);
    const v = job.verification!;
    expect(v.expectedArchiveBytes).toBe(job.archive!.bytes);
    expect(job.archive!.bytes).toBe((await stat(plain)).size);
    expect((await stat(job.archivePath)).size).toBe(job.archive!.bytes);
    const linkedOnce = 2; // two extra names of hard-linked inodes
    expect(v.sourceFiles).toBe(findCount(src, 'f') - linkedOnce);
    expect(v.archiveFiles).toBe(v.sourceFiles);
    expect(v.archiveBytes).toBe(v.sourceBytes);
    const du = Number(execFileSync('du', ['-s', '-B1', src], { encoding: 'utf8' }).split('\t')[0]);
    expect(v.sourceDiskBytes).toBe(du);
    expect(v).toMatchObject({ matched: true, changedDuringBackup: [] });
    expect(execFileSync('tar', ['-tf', job.archivePath]).equals(execFileSync('tar', ['-tf', plain]))).toBe(true);

    // Sidecars: the archive checked in the backup dir, the files after a restore into a temp root.
    const backupDir = path.join(root, 'backup');
    expect((await readdir(backupDir)).sort()).toEqual(['10.1.2.3-minio.tar', '10.1.2.3-minio.tar.manifest', '10.1.2.3-minio.tar.sha256']);
    // Readable by root only, all three: the manifest lists every object path of the registry.
    for (const f of await readdir(backupDir)) expect((await stat(path.join(backupDir, f))).mode & 0o777, f).toBe(0o600);
    execFileSync('sha256sum', ['-c', '--strict', '10.1.2.3-minio.tar.sha256'], { cwd: backupDir });
    const restored = path.join(root, 'restore');
    await mkdir(restored);
    execFileSync('tar', ['-xf', job.archivePath, '-C', restored]);
    execFileSync('sha256sum', ['-c', '--strict', '--quiet', path.join(backupDir, '10.1.2.3-minio.tar.manifest')], { cwd: restored });
    const manifestLines = (await readFile(path.join(backupDir, '10.1.2.3-minio.tar.manifest'), 'utf8')).trimEnd().split('\n');
    expect(manifestLines.length).toBe(findCount(src, 'f'));
    execFileSync('diff', ['-r', '--no-dereference', src, path.join(restored, src)]);
    const a = await stat(path.join(restored, src, 'bucket 3', 'hard link'));
    const b = await stat(path.join(restored, src, 'bucket 1', 'part.1'));
    expect(a.ino).toBe(b.ino);

    // Download: streamed, Content-Length, the same bytes.
    const res = await fetch(`${agent.url ?? ''}/v1/backups/${id}/archive`);
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBe(job.archive!.bytes);
    const body = Buffer.from(await res.arrayBuffer());
    expect(createHash('sha256').update(body).digest('hex')).toBe(job.archive!.sha256);

    const list = await api('GET', '/v1/backups');
    expect((list.body.items as Job[]).map((j) => j.id)).toEqual([id]);
    const metrics = await (await fetch(`${agent.url ?? ''}/metrics`)).text();
    expect(metrics).toContain(`node_ca_backup_bytes_total ${job.archive!.bytes}`);
    expect(metrics).toContain('node_ca_backups_total{phase="Succeeded"} 1');
  });

  it('runs one backup at a time (409 with the running id), cancels on DELETE and removes the partial', async () => {
    await makeTree(path.join(root, 'src'), 300);
    const bin = path.join(root, 'bin');
    const gateFile = path.join(root, 'gate');
    const pidFile = path.join(root, 'tar.pid');
    await writeGatedTar(bin, { gateFile, pidFile, gateBytes: 20480 });
    agent = await startAgentProcess({ config: backupAgentConfig(root), env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
    const id = String((await api('POST', '/v1/backups', {})).body.id);
    await waitFor(async () => ((await api('GET', `/v1/backups/${id}`)).body as unknown as Job).progress.bytesDone >= 20480, { timeoutMs: 20_000 });
    const second = await api('POST', '/v1/backups', { allowChanges: true });
    expect(second.status).toBe(409);
    expect(second.body.error).toMatchObject({ code: 'BACKUP_RUNNING', jobId: id });
    const early = await api('GET', `/v1/backups/${id}/archive`);
    expect(early.status).toBe(409);
    const partial = path.join(root, 'backup', '10.1.2.3-minio.tar.partial');
    await stat(partial);
    const tarPid = await waitFor(() => readPid(pidFile), { timeoutMs: 10_000, message: 'gated tar pid' });

    const canceled = await api('DELETE', `/v1/backups/${id}`).catch((e: unknown) => {
      throw new Error(`${String(e)} ${agent?.stderr.join('\n') ?? ''} ${JSON.stringify(agent?.logs.slice(-4))}`);
    });
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ phase: 'Canceled', error: { code: 'CANCELED' } });
    expect(await readdir(path.join(root, 'backup'))).toEqual([]);
    await waitFor(() => !isAlive(tarPid), { timeoutMs: 10_000, message: 'tar to end' });
    await writeFile(gateFile, '');
    const again = await api('POST', '/v1/backups', {});
    expect(again.status).toBe(202);
    expect((await finished(String(again.body.id))).phase).toBe('Succeeded');
  });

  it('starts again at once after a job shows final, lists jobs by creation, serves each archive only to its job', async () => {
    const file = path.join(root, 'src', 'object');
    agent = await startAgentProcess({ config: backupAgentConfig(root) });
    const made: Job[] = [];
    for (let i = 0; i < 10; i++) {
      // The same size every time, other bytes: the archives differ only in content.
      await writeFile(file, `version ${String(i).padStart(3, '0')}`);
      const started = await api('POST', '/v1/backups', {});
      expect(started.status, `POST ${i} right after the previous job showed final: ${JSON.stringify(started.body)}`).toBe(202);
      // An orchestrator's loop: poll until a final phase, then the next POST at once.
      const job = await waitFor(
        async () => {
          const j = (await api('GET', `/v1/backups/${String(started.body.id)}`)).body as unknown as Job;
          return ['Succeeded', 'Failed', 'Canceled'].includes(j.phase) ? j : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 1, message: `backup ${i}` },
      );
      expect(job.phase).toBe('Succeeded');
      made.push(job);
    }
    const listed = (await api('GET', '/v1/backups')).body.items as Job[];
    expect(listed.map((j) => j.id)).toEqual(made.map((j) => j.id).reverse());

    const newest = made.at(-1)!;
    const res = await fetch(`${agent.url ?? ''}/v1/backups/${newest.id}/archive`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-archive-sha256')).toBe(newest.archive!.sha256);
    expect(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')).toBe(newest.archive!.sha256);
    for (const older of made.slice(0, -1)) {
      const answer = await api('GET', `/v1/backups/${older.id}/archive`);
      expect(answer.status, older.id).toBe(404);
    }
  });

  it('answers every bad input with 400 and a code', async () => {
    agent = await startAgentProcess({ config: backupAgentConfig(root) });
    const cases: [string, string, unknown][] = [
      ['POST', '/v1/backups', { source: 'minio', extra: 1 }],
      ['POST', '/v1/backups', { source: 7 }],
      ['POST', '/v1/backups', { allowChanges: 'yes' }],
      ['POST', '/v1/backups', { source: '../etc' }],
      ['POST', '/v1/backups', { source: 'nosuch' }],
      ['POST', '/v1/backups', [1]],
      ['POST', '/v1/backups?x=1', {}],
      ['GET', '/v1/backups?limit=1', undefined],
      ['GET', '/v1/backups/not-an-id', undefined],
      ['DELETE', '/v1/backups/x', undefined],
      ['GET', '/v1/backups/%2E%2E%2Fetc/archive', undefined],
    ];
    for (const [method, url, body] of cases) {
      const res = await api(method, url, body);
      expect(res.status, `${method} ${url}`).toBe(400);
      expect((res.body.error as { code: string }).code, `${method} ${url}`).toMatch(/^[A-Z_]+$/);
    }
    const raw = await fetch(`${agent.url ?? ''}/v1/backups`, { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } });
    expect(raw.status).toBe(400);
    expect((await api('GET', '/v1/backups/20261123T000000Z-0000abcd')).status).toBe(404);
    const missing = await api('POST', '/v1/backups', { source: 'other' });
    expect(missing.body.error).toMatchObject({ code: 'SOURCE_MISSING' });
  });
});
