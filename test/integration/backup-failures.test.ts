import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess } from '../support/agent.js';
import { agentJson, backupAgentConfig, makeTree, writeGatedTar } from '../support/backup.js';
import { isAlive, killPid, readPid } from '../support/pids.js';
import { waitFor } from '../support/poll.js';

interface Job {
  id: string;
  phase: string;
  progress: { bytesDone: number };
  verification?: { changedDuringBackup: string[]; matched: boolean };
  error?: { code: string; message?: string };
}

let root: string;
const agents: AgentProcess[] = [];
const pids: number[] = [];

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-bkf-'));
  await mkdir(path.join(root, 'ca'));
  await mkdir(path.join(root, 'src'));
});

afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop('SIGKILL');
  for (const pid of pids.splice(0)) killPid(pid);
  await rm(root, { recursive: true, force: true });
});

async function start(options: Parameters<typeof startAgentProcess>[0]): Promise<AgentProcess> {
  const a = await startAgentProcess(options);
  agents.push(a);
  return a;
}

const api = (agent: AgentProcess, method: string, url: string, body?: unknown) => agentJson(agent.url ?? '', method, url, body);

const getJob = async (agent: AgentProcess, id: string) => (await api(agent, 'GET', `/v1/backups/${id}`)).body as unknown as Job;

async function finished(agent: AgentProcess, id: string): Promise<Job> {
  return waitFor(
    async () => {
      const job = await getJob(agent, id);
      return ['Succeeded', 'Failed', 'Canceled'].includes(job.phase) ? job : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50, message: `backup ${id} to finish` },
  );
}

/** A gated tar on PATH: the backup stalls after `gateBytes` until the test opens the gate. */
async function gated(gateBytes: number) {
  const bin = path.join(root, 'bin');
  const gateFile = path.join(root, 'gate');
  const pidFile = path.join(root, 'tar.pid');
  await rm(pidFile, { force: true });
  await writeGatedTar(bin, { gateFile, pidFile, gateBytes });
  return {
    env: { PATH: `${bin}:${process.env.PATH ?? ''}` },
    open: () => writeFile(gateFile, ''),
    pid: () => waitFor(() => readPid(pidFile), { timeoutMs: 10_000, message: 'gated tar pid' }),
  };
}

describe('backup failures (agent process, real GNU tar)', () => {
  it('marks a backup killed with the agent (kill -9) INTERRUPTED after restart, partial removed', async () => {
    await makeTree(path.join(root, 'src'), 500);
    const gate = await gated(40960);
    const config = backupAgentConfig(root);
    const first = await start({ config, env: gate.env });
    const id = String((await api(first, 'POST', '/v1/backups', {})).body.id);
    await waitFor(async () => (await getJob(first, id)).progress.bytesDone >= 40960, { timeoutMs: 20_000 });
    const partial = path.join(root, 'backup', '10.1.2.3-minio.tar.partial');
    await stat(partial); // the .partial exists: the kill lands mid-backup
    const tarPid = await gate.pid();
    pids.push(tarPid);
    await first.stop('SIGKILL');
    // tar writes the partial itself; it runs under setpriv --pdeathsig KILL, so it ends with the agent.
    await waitFor(() => !isAlive(tarPid), { timeoutMs: 10_000, message: 'tar to end with the killed agent' });
    const second = await start({ config });
    const job = await getJob(second, id);
    expect(job).toMatchObject({ phase: 'Failed', error: { code: 'INTERRUPTED' } });
    expect(await readdir(path.join(root, 'backup'))).toEqual([]);
  });

  it('fails SOURCE_CHANGED when files are rewritten, created or removed during the backup, and succeeds with allowChanges', async () => {
    const src = path.join(root, 'src');
    await makeTree(src, 200);
    for (const allowChanges of [false, true]) {
      await rm(path.join(root, 'gate'), { force: true });
      const gate = await gated(0);
      const agent = await start({ config: backupAgentConfig(root), env: gate.env });
      const id = String((await api(agent, 'POST', '/v1/backups', { allowChanges })).body.id);
      pids.push(await gate.pid());
      // After the first walk, before tar reads anything: a live MinIO writing objects.
      await writeFile(path.join(src, 'bucket 4', 'part.4'), randomBytes(12_345));
      await writeFile(path.join(src, 'bucket 5', `new object ${String(allowChanges)}`), randomBytes(1000));
      await rm(path.join(src, 'bucket 6', allowChanges ? 'part.26' : 'part.46'));
      await gate.open();
      const job = await finished(agent, id);
      expect(job.verification?.changedDuringBackup).toEqual(
        expect.arrayContaining(['bucket 4/part.4', `bucket 5/new object ${String(allowChanges)}`, `bucket 6/${allowChanges ? 'part.26' : 'part.46'}`]),
      );
      expect(job.verification?.matched).toBe(false);
      if (allowChanges) expect(job.phase).toBe('Succeeded');
      else {
        expect(job).toMatchObject({ phase: 'Failed', error: { code: 'SOURCE_CHANGED' } });
        expect(await readdir(path.join(root, 'backup'))).toEqual([]);
      }
      await agent.stop();
    }
  });

  it('keeps the old archive when the new one cannot be published (a directory where its .sha256 goes)', async () => {
    const src = path.join(root, 'src');
    await makeTree(src, 50);
    const agent = await start({ config: backupAgentConfig(root) });
    const first = await finished(agent, String((await api(agent, 'POST', '/v1/backups', {})).body.id));
    expect(first.phase).toBe('Succeeded');
    const archive = path.join(root, 'backup', '10.1.2.3-minio.tar');
    const hash = async () => createHash('sha256').update(await readFile(archive)).digest('hex');
    const before = await hash();
    await writeFile(path.join(src, 'bucket 1', 'part.1'), randomBytes(131));
    await rm(`${archive}.sha256`);
    await mkdir(`${archive}.sha256`);
    const second = await finished(agent, String((await api(agent, 'POST', '/v1/backups', {})).body.id));
    expect(second).toMatchObject({ phase: 'Failed', error: { code: 'INTERNAL' } });
    expect(await hash()).toBe(before);
    expect((await readdir(path.join(root, 'backup'))).sort()).toEqual(['10.1.2.3-minio.tar', '10.1.2.3-minio.tar.manifest', '10.1.2.3-minio.tar.sha256']);
  });

  it('refuses to start with a backup dir that is a symlink into the source, or a NODE_IP that is not an address', async () => {
    await mkdir(path.join(root, 'src', 'backups'));
    await symlink(path.join(root, 'src', 'backups'), path.join(root, 'backup'));
    const linked = await start({ config: backupAgentConfig(root), waitStarted: false });
    expect((await linked.exited).code).toBe(2);
    expect(linked.stderr.join('\n')).toMatch(/backup\.dir: .*backup \(.*src\/backups\) is inside backup\.sources\.minio/);

    await rm(path.join(root, 'backup'));
    const cidr = await start({ config: { ...backupAgentConfig(root), nodeIP: undefined }, env: { NODE_IP: '10.0.0.1/24' }, waitStarted: false });
    expect((await cidr.exited).code).toBe(2);
    expect(cidr.stderr.join('\n')).toContain('nodeIP: NODE_IP "10.0.0.1/24" is not an IPv4 or IPv6 address');
  });

  it('on a 2 MiB tmpfs: 507 at preflight, NO_SPACE with no partial when the source grows after it', async () => {
    const src = path.join(root, 'src');
    const backupDir = path.join(root, 'backup');
    await mkdir(backupDir);
    for (let d = 0; d < 8; d++) {
      await mkdir(path.join(src, `d${d}`));
      await writeFile(path.join(src, `d${d}`, 'seed'), randomBytes(100_000));
    }
    await writeFile(path.join(src, 'big'), randomBytes(3 << 20));
    const gate = await gated(0);
    // A private mount namespace: the tmpfs exists for the agent only.
    const prefix = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o size=2m tmpfs "$0" && exec "$@"', backupDir];
    const agent = await start({ config: backupAgentConfig(root), env: gate.env, prefix });
    const inAgentNs = () => execFileSync('nsenter', ['-t', String(agent.pid), '-m', '--', 'ls', '-A', backupDir], { encoding: 'utf8' }).trim();
    const refused = await api(agent, 'POST', '/v1/backups', {});
    expect(refused.status).toBe(507);
    expect(refused.body.error).toMatchObject({ code: 'INSUFFICIENT_STORAGE' });
    expect(inAgentNs()).toBe('');

    await rm(path.join(src, 'big'));
    const started = await api(agent, 'POST', '/v1/backups', {});
    expect(started.status).toBe(202);
    pids.push(await gate.pid());
    // tar is held before its first byte; every directory it has not entered yet grows past the tmpfs.
    for (let d = 0; d < 8; d++) await writeFile(path.join(src, `d${d}`, 'growth'), randomBytes(3 << 20));
    await gate.open();
    const job = await finished(agent, String(started.body.id));
    expect(job).toMatchObject({ phase: 'Failed', error: { code: 'NO_SPACE' } });
    expect(job.error?.message).toMatch(/Cannot write: No space left on device$/);
    expect(inAgentNs()).toBe('');
  });
});
