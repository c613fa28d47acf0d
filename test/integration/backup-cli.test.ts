import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliPath } from '../support/agent.js';
import { makeTree, writeGatedTar } from '../support/backup.js';
import { isAlive, readPid } from '../support/pids.js';
import { waitFor } from '../support/poll.js';

const run = promisify(execFile);
let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-bkc-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function cli(args: string[]) {
  return run(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH ?? '' } }).then(
    (r) => ({ code: 0, ...r }),
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );
}

describe('node-ca backup (in-process job)', () => {
  it('prints plain progress and a verified summary, exit 0; exit non-zero when the source is missing', async () => {
    await makeTree(path.join(root, 'src'), 400);
    const config = path.join(root, 'config.yaml');
    const backup = { sources: { minio: path.join(root, 'src'), gone: path.join(root, 'gone') }, dir: path.join(root, 'out'), stateDir: path.join(root, 'state'), minFreePercent: 0 };
    await writeFile(config, JSON.stringify({ nodeName: 'cli-node', backup }));
    const ok = await cli(['backup', '--config', config]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/: Succeeded\n/);
    expect(ok.stdout).toContain(path.join(root, 'out', 'cli-node-minio.tar'));
    expect(ok.stdout).toMatch(/verified {4}yes/);
    expect(ok.stderr).toMatch(/100% .* (\d+)\/\1 files/);
    await mkdir(path.join(root, 'gone'));
    await rm(path.join(root, 'gone'), { recursive: true });
    const bad = await cli(['backup', '--config', config, '--source', 'gone']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('does not exist');
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('cancels cleanly on %s: tar stopped, partials removed, the job recorded Canceled, exit 1', async (signal) => {
    await makeTree(path.join(root, 'src'), 300);
    const bin = path.join(root, 'bin');
    const pidFile = path.join(root, 'tar.pid');
    await writeGatedTar(bin, { gateFile: path.join(root, 'gate'), pidFile, gateBytes: 20480 });
    const config = path.join(root, 'config.yaml');
    const out = path.join(root, 'out');
    const state = path.join(root, 'state');
    await writeFile(config, JSON.stringify({ nodeName: 'cli-node', backup: { sources: { minio: path.join(root, 'src') }, dir: out, stateDir: state, minFreePercent: 0 } }));
    const child = spawn(process.execPath, [cliPath, 'backup', '--config', config], { env: { PATH: `${bin}:${process.env.PATH ?? ''}` } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code) => {
        resolve(code);
      });
    });
    const tarPid = await waitFor(() => readPid(pidFile), { timeoutMs: 20_000, message: 'gated tar started' });
    await waitFor(async () => (await stat(path.join(out, 'cli-node-minio.tar.partial')).catch(() => undefined))?.size === 20480, { timeoutMs: 20_000, message: 'tar held mid-stream' });

    child.kill(signal);

    expect(await exited, stderr).toBe(1);
    expect(stdout).toMatch(/: Canceled \(CANCELED: /);
    expect(stderr).toContain(`${signal}: canceling the backup`);
    expect(await readdir(out)).toEqual([]);
    await waitFor(() => !isAlive(tarPid), { timeoutMs: 10_000, message: 'tar to end' });
    const jobs = JSON.parse(await readFile(path.join(state, (await readdir(state)).find((f) => f.endsWith('.json')) ?? ''), 'utf8')) as unknown;
    expect(JSON.stringify(jobs)).toMatch(/"phase":"Canceled"/);
    expect(JSON.stringify(jobs)).not.toMatch(/"phase":"Running"/);
  });
});
