import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { demoBundles } from '../../src/demo/sample-ca.js';
import { cliPath } from '../support/agent.js';
import { waitFor } from '../support/poll.js';

let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  child?.kill('SIGKILL');
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('node-ca demo runs the agent in a sandbox, prints its URL, serves it, and stops on SIGTERM', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-demo-test-'));
  const proc = spawn(process.execPath, [cliPath, 'demo', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let stdout = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const url = await waitFor(() => /URL\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1], {
    timeoutMs: 20_000,
    message: 'demo URL',
  });
  expect((await fetch(`${url}/readyz`)).status).toBe(200);
  const host = 'image-registry.image-registry-system.svc:5000';
  const written = await readFile(path.join(dir, 'etc/containerd/certs.d', host, 'ca.crt'), 'utf8');
  expect(written).toBe(demoBundles.get('image-registry.image-registry-system.svc..5000'));
  const backup = await fetch(`${url}/v1/backups`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(backup.status).toBe(202);
  const job = await waitFor(async () => {
    const j = (await (await fetch(`${url}${backup.headers.get('location') ?? ''}`)).json()) as {
      phase: string;
    };
    return j.phase === 'Succeeded' || j.phase === 'Failed' ? j : undefined;
  });
  expect(job.phase).toBe('Succeeded');
  const exit = closed(proc);
  proc.kill('SIGTERM');
  expect(await exit).toBe(0);
  // The user's own directory stays, and the demo says so.
  expect(stdout).toContain(`node-ca demo stopped; sandbox kept: ${dir}\n`);
  expect(existsSync(path.join(dir, 'ca-bundle'))).toBe(true);
});

/** Exit code, once stdout and stderr are drained. */
function closed(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      resolve(code);
    }),
  );
}

it('node-ca demo removes the sandbox it made on Ctrl-C, and says where it was', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-demo-test-'));
  const proc = spawn(process.execPath, [cliPath, 'demo'], {
    env: { ...process.env, TMPDIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let stdout = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const sandbox = await waitFor(() => /sandbox\s+(\S+)/.exec(stdout)?.[1], { timeoutMs: 20_000, message: 'demo banner' });
  expect(path.dirname(sandbox)).toBe(dir);
  expect(existsSync(path.join(sandbox, 'ca-bundle'))).toBe(true);
  const exit = closed(proc);
  proc.kill('SIGINT');
  expect(await exit).toBe(0);
  expect(stdout).toContain(`node-ca demo stopped; sandbox removed: ${sandbox}\n`);
  expect(await readdir(dir)).toEqual([]);
});

it('node-ca demo --help gives each default once', async () => {
  const proc = spawn(process.execPath, [cliPath, 'demo', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  expect(await closed(proc)).toBe(0);
  expect(stdout).toMatch(/--port <port>\s+port on 127\.0\.0\.1 \(default: a free one\)\n/);
  expect(stdout.match(/\(default:/g)).toHaveLength(2);
});
