import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
  const exit = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      resolve(code);
    }),
  );
  proc.kill('SIGTERM');
  expect(await exit).toBe(0);
});
