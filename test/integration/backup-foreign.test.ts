import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliPath, startAgentProcess, type AgentProcess } from '../support/agent.js';
import { agentJson, backupAgentConfig, makeTree, writeGatedTar } from '../support/backup.js';
import { isAlive, readPid } from '../support/pids.js';
import { waitFor } from '../support/poll.js';

// The agent and a `node-ca backup` command share the state directory and its lock: a job
// on record may be another process's. These tests run both as real processes.

interface Job {
  id: string;
  phase: string;
  error?: { code: string; message: string };
}

let root: string;
let agent: AgentProcess | undefined;
let cliChild: ChildProcess | undefined;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-bkf-'));
  await mkdir(path.join(root, 'ca'));
  await makeTree(path.join(root, 'src'), 300);
});

afterEach(async () => {
  cliChild?.kill('SIGKILL');
  cliChild = undefined;
  await agent?.stop('SIGKILL');
  agent = undefined;
  await rm(root, { recursive: true, force: true });
});

const api = (method: string, url: string, body?: unknown) => agentJson(agent?.url ?? '', method, url, body);

const jobs = async (): Promise<Job[]> => (await api('GET', '/v1/backups')).body.items as Job[];
const partial = () => path.join(root, 'backup', '10.1.2.3-minio.tar.partial');

/**
 * `node-ca backup` with the agent's configuration, its tar held after 20 KiB (gate file
 * absent): started, its job Running on record, and its partial on disk.
 */
async function heldCliBackup(): Promise<{ child: ChildProcess; exited: Promise<number | null>; jobId: string; tarPid: number; gate: string }> {
  const bin = path.join(root, 'bin');
  const gate = path.join(root, 'gate');
  const pidFile = path.join(root, 'tar.pid');
  await writeGatedTar(bin, { gateFile: gate, pidFile, gateBytes: 20480 });
  const config = path.join(root, 'cli.json');
  await writeFile(config, JSON.stringify(backupAgentConfig(root)));
  const child = spawn(process.execPath, [cliPath, 'backup', '--config', config], { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, stdio: 'ignore' });
  cliChild = child;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      resolve(code);
    });
  });
  const tarPid = await waitFor(() => readPid(pidFile), { timeoutMs: 20_000, message: 'the CLI backup to start tar' });
  await waitFor(async () => (await stat(partial()).catch(() => undefined))?.size === 20480, { timeoutMs: 20_000, message: 'tar held mid-stream' });
  const running = await waitFor(async () => (await jobs()).find((j) => j.phase === 'Running'), { timeoutMs: 10_000, message: 'the CLI job on record' });
  return { child, exited, jobId: running.id, tarPid, gate };
}

/** A CLI backup killed with SIGKILL mid-stream: its record stays Running, its partial stays. */
async function abandonedCliBackup(): Promise<string> {
  const held = await heldCliBackup();
  held.child.kill('SIGKILL');
  await held.exited;
  await waitFor(() => !isAlive(held.tarPid), { timeoutMs: 10_000, message: 'tar to end with the CLI (pdeathsig)' });
  const record = (await jobs()).find((j) => j.id === held.jobId);
  expect(record?.phase, 'the killed CLI left its job Running on record').toBe('Running');
  return held.jobId;
}

describe('backup jobs of another process (agent + node-ca backup, real GNU tar)', () => {
  it('refuses to cancel a job a live node-ca backup runs (409 with its pid); that backup goes on and succeeds', async () => {
    agent = await startAgentProcess({ config: backupAgentConfig(root) });
    const held = await heldCliBackup();

    const refused = await api('DELETE', `/v1/backups/${held.jobId}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'BACKUP_NOT_CANCELABLE', jobId: held.jobId, pid: held.child.pid });
    expect(String((refused.body.error as Job['error'])?.message)).toContain('only that process can cancel it');
    expect(isAlive(held.tarPid)).toBe(true);

    await writeFile(held.gate, '');
    expect(await held.exited).toBe(0);
    expect((await jobs()).find((j) => j.id === held.jobId)?.phase).toBe('Succeeded');
  });

  it('records a job whose process was killed INTERRUPTED on DELETE, and removes its partial', async () => {
    agent = await startAgentProcess({ config: backupAgentConfig(root) });
    const id = await abandonedCliBackup();
    await stat(partial());

    const deleted = await api('DELETE', `/v1/backups/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id, phase: 'Failed', error: { code: 'INTERRUPTED' } });
    expect(String((deleted.body.error as Job['error'])?.message)).toContain('ended before it did');
    expect(await readdir(path.join(root, 'backup'))).toEqual([]);
    expect((await jobs()).find((j) => j.id === id)?.phase).toBe('Failed');
  });

  it('records a job whose process was killed INTERRUPTED when the agent starts the next backup', async () => {
    agent = await startAgentProcess({ config: backupAgentConfig(root) });
    const id = await abandonedCliBackup();

    const started = await api('POST', '/v1/backups', {});
    expect(started.status).toBe(202);
    const next = String(started.body.id);
    const done = await waitFor(
      async () => {
        const all = await jobs();
        return all.find((j) => j.id === next && ['Succeeded', 'Failed', 'Canceled'].includes(j.phase)) ? all : undefined;
      },
      { timeoutMs: 60_000, message: 'the next backup to end' },
    );
    expect(done.find((j) => j.id === next)?.phase).toBe('Succeeded');
    expect(done.find((j) => j.id === id)).toMatchObject({ phase: 'Failed', error: { code: 'INTERRUPTED' } });
    expect(done.filter((j) => j.phase === 'Running')).toEqual([]);
  });
});
