import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { CheckResult } from '../../src/doctor/check.js';
import { demoBundles } from '../../src/demo/sample-ca.js';
import { cliPath } from '../support/agent.js';
import { isAlive, killPid, parsePid } from '../support/pids.js';
import { waitFor } from '../support/poll.js';

let child: ChildProcess | undefined;
let dir: string | undefined;
/** A demo run under `script`: not our child, so killed by pid. */
let orphan: number | undefined;
let busy: Server | undefined;
afterEach(async () => {
  child?.kill('SIGKILL');
  if (orphan !== undefined) killPid(orphan);
  orphan = undefined;
  const server = busy;
  busy = undefined;
  if (server !== undefined) await new Promise((resolve) => server.close(resolve));
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

/** `node-ca demo ARGS` with its temp sandboxes made under `tmp`; stdout and stderr collected. */
function startDemo(args: string[], tmp: string) {
  const proc = spawn(process.execPath, [cliPath, 'demo', ...args], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  const out = { stdout: '', stderr: '' };
  proc.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  return { proc, out, exit: closed(proc) };
}

it('node-ca demo removes the sandbox it made on SIGHUP, like on Ctrl-C', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-demo-test-'));
  const { proc, out, exit } = startDemo([], dir);
  const sandbox = await waitFor(() => /sandbox\s+(\S+)/.exec(out.stdout)?.[1], { timeoutMs: 20_000, message: 'demo banner' });
  expect(existsSync(path.join(sandbox, 'ca-bundle'))).toBe(true);
  proc.kill('SIGHUP');
  expect(await exit).toBe(0);
  expect(out.stdout).toContain(`node-ca demo stopped; sandbox removed: ${sandbox}\n`);
  expect(await readdir(dir)).toEqual([]);
});

/** Gone, or a zombie nobody has reaped yet (an orphan's parent may be a container's pid 1). */
function hasExited(pid: number): boolean {
  if (!isAlive(pid)) return true;
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

// The terminal closing: SIGHUP, then every write to it fails with EIO. pino's destination
// retried its flush of the "stopping" line forever, so the demo never stopped.
it('node-ca demo stops and removes its sandbox when its terminal closes', async () => {
  // script(1) is util-linux's (Debian: bsdutils, installed by .ci/run): a missing one fails here.
  expect(spawnSync('script', ['--version']).status, 'script(1) from bsdutils').toBe(0);
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-demo-test-'));
  // script(1) runs the demo on a pseudo-terminal; the shell prints its pid, then becomes the demo.
  const command = `echo pid=$$; exec '${process.execPath}' '${cliPath}' demo`;
  const term = spawn('script', ['-q', '-c', command, '/dev/null'], {
    env: { ...process.env, TMPDIR: dir, SHELL: '/bin/sh' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child = term;
  let screen = '';
  term.stdout.on('data', (d: Buffer) => (screen += d.toString()));
  const banner = await waitFor(() => /pid=(\d+)[\s\S]*sandbox\s+(\S+)/.exec(screen) ?? undefined, {
    timeoutMs: 20_000,
    message: 'demo banner on the terminal',
  });
  const pid = parsePid(banner[1] ?? '');
  orphan = pid;
  const sandbox = banner[2] ?? '';
  expect(pid).toBeDefined();
  expect(existsSync(path.join(sandbox, 'ca-bundle'))).toBe(true);
  // Killing script closes the terminal's master side: the kernel hangs the terminal up.
  term.kill('SIGKILL');
  await waitFor(() => pid !== undefined && hasExited(pid), { timeoutMs: 20_000, message: 'the demo to exit' });
  expect(await readdir(dir)).toEqual([]);
});

/**
 * Absolute paths named in a doctor row (`/v1/trust`), except tls.handshake's description
 * of the resolver it used: the demo's probes do resolve names as this machine does.
 */
function pathsIn(check: CheckResult): string[] {
  const text = `${check.subject} ${check.message} ${check.remedy}`.replaceAll('(/etc/hosts, then DNS)', '');
  return [...text.matchAll(/(?:^|[\s"'(=])(\/[^\s"'),;]+)/g)].map((m) => m[1] ?? '');
}

it('node-ca demo: doctor reads the sandbox containerd config, and no row names a host path', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-demo-test-'));
  const { out } = startDemo(['--dir', dir], dir);
  const url = await waitFor(() => /URL\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out.stdout)?.[1], { timeoutMs: 20_000, message: 'demo URL' });
  const report = (await (await fetch(`${url}/v1/trust`)).json()) as { checks: CheckResult[] };
  const containerd = report.checks.filter((c) => c.id === 'containerd.config');
  expect(containerd).toEqual([
    expect.objectContaining({ status: 'ok', subject: path.join(dir, 'etc/containerd/config.toml') }),
  ]);
  expect(containerd[0]?.message).toContain(`covers ${path.join(dir, 'etc/containerd/certs.d')}`);
  const paths = report.checks.flatMap(pathsIn);
  expect(paths.length).toBeGreaterThan(report.checks.length / 2);
  expect(paths.filter((p) => !p.startsWith(`${dir}/`))).toEqual([]);
});

/** A TCP port on 127.0.0.1 that something else holds. */
async function busyPort(): Promise<number> {
  const server = createServer();
  busy = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

it('node-ca demo that cannot listen exits 1 and leaves no temp sandbox behind', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-demo-test-'));
  const { out, exit } = startDemo(['--port', String(await busyPort())], dir);
  expect(await exit).toBe(1);
  expect(out.stderr).toContain('EADDRINUSE');
  expect(await readdir(dir)).toEqual([]);
});

it('node-ca demo that cannot listen keeps a --dir sandbox', async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-demo-test-'));
  const sandbox = path.join(dir, 'mine');
  const { out, exit } = startDemo(['--dir', sandbox, '--port', String(await busyPort())], dir);
  expect(await exit).toBe(1);
  expect(out.stderr).toContain('EADDRINUSE');
  expect(existsSync(path.join(sandbox, 'ca-bundle'))).toBe(true);
});

it.each(['abc', '65536', '-1'])('node-ca demo --port %s exits 2 naming --port, with no sandbox made', async (port) => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-demo-test-'));
  const { out, exit } = startDemo([`--port=${port}`], dir);
  expect(await exit).toBe(2);
  expect(out.stderr).toContain(`option '--port <port>' argument '${port}' is invalid`);
  expect(out.stderr).not.toContain('server.listen');
  expect(await readdir(dir)).toEqual([]);
});
