import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyActions, readCertsDir } from '../../src/trust/apply.js';
import { planDesiredState } from '../../src/trust/desired.js';
import { planCertsDir } from '../../src/trust/plan.js';
import { cliPath } from '../support/agent.js';
import { makeCa } from '../support/pki.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

/*
 * node-ca doctor as a process against real TLS docker-registry instances on
 * 127.0.0.1, their names resolved through a private /etc/hosts: the CLI runs
 * under `unshare -m` with a temp file bind-mounted over /etc/hosts.
 */
const day = 86_400_000;
const caA = makeCa('doctor CA A', { keyIndex: 0 });
const caB = makeCa('doctor CA B', { keyIndex: 2 });
const names = {
  good: 'registry.test.local',
  other: 'othername.test.local',
  expired: 'expired.test.local',
};

interface DoctorRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('node-ca doctor (the built CLI) against real TLS registries', () => {
  let root: string;
  let hostsFile: string;
  const registries: TestRegistry[] = [];
  let good: TestRegistry, other: TestRegistry, expired: TestRegistry;

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'node-ca-doctor-it-'));
    hostsFile = path.join(root, 'hosts');
    await writeFile(hostsFile, `127.0.0.1 localhost ${Object.values(names).join(' ')}\n`);
    good = await startRegistry({ dir: path.join(root, 'r-good'), name: names.good, ca: caA });
    other = await startRegistry({
      dir: path.join(root, 'r-other'),
      name: names.other,
      ca: caA,
      certNames: ['somewhere.else.local'],
    });
    expired = await startRegistry({
      dir: path.join(root, 'r-expired'),
      name: names.expired,
      ca: caA,
      certValidity: {
        notBefore: new Date(Date.now() - 3 * day),
        notAfter: new Date(Date.now() - day),
      },
    });
    registries.push(good, other, expired);
  });
  afterAll(async () => {
    await Promise.all(registries.map((r) => r.stop()));
    await rm(root, { recursive: true, force: true });
  });

  /** A node sandbox: source dir, both certs dirs as the agent writes them, a v2 containerd config. */
  async function node(source: Record<string, string>, extra: { configPath?: string } = {}) {
    const dir = await mkdtemp(path.join(root, 'node-'));
    const sourceDir = path.join(dir, 'source');
    await mkdir(sourceDir);
    for (const [k, v] of Object.entries(source)) await writeFile(path.join(sourceDir, k), v);
    const containerd = path.join(dir, 'containerd-certs.d');
    const docker = path.join(dir, 'docker-certs.d');
    const desired = planDesiredState(new Map(Object.entries(source)));
    for (const [d, flavor] of [
      [containerd, 'containerd'],
      [docker, 'docker'],
    ] as const)
      await applyActions(
        d,
        planCertsDir({
          flavor,
          desired: desired.registries,
          keep: new Set(),
          observed: await readCertsDir(d),
          now: new Date(),
        }),
      );
    const containerdConfig = path.join(dir, 'config.toml');
    await writeFile(
      containerdConfig,
      `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "${extra.configPath ?? containerd}"\n`,
    );
    const config = path.join(dir, 'node-ca.yaml');
    await writeFile(
      config,
      JSON.stringify({
        nodeName: 'doctor-node',
        trust: {
          sourceDir,
          containerdCertsDir: containerd,
          dockerCertsDir: docker,
          containerdConfig,
        },
        hosts: { file: '' },
      }),
    );
    return { config, containerd };
  }

  function doctor(args: readonly string[]): Promise<DoctorRun> {
    const script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"';
    const child = spawn(
      'unshare',
      [
        '-m',
        '--',
        'sh',
        '-c',
        script,
        'sh',
        hostsFile,
        process.execPath,
        cliPath,
        'doctor',
        ...args,
      ],
      {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) =>
      child.on('close', (code) => {
        resolve({ code, stdout, stderr });
      }),
    );
  }
  const keyOf = (r: TestRegistry) => r.host.replace(':', '..');
  type Report = {
    ok: boolean;
    node: string;
    checks: { id: string; status: string; subject: string; message: string; remedy: string }[];
  };
  const json = async (config: string) => {
    const run = await doctor(['--config', config, '--json']);
    return { code: run.code, report: JSON.parse(run.stdout) as Report, stderr: run.stderr };
  };
  const rowsFor = (report: Report, host: string) =>
    report.checks.filter((c) => c.id.startsWith('tls.') && c.subject === host);

  it('right CA: every check ok, exit 0, exactly the SPEC JSON shape', async () => {
    const { config } = await node({ [keyOf(good)]: caA.cert });
    const { code, report, stderr } = await json(config);
    expect(stderr).toBe('');
    expect(report.checks.filter((c) => c.status !== 'ok')).toEqual([]);
    expect(code).toBe(0);
    expect(Object.keys(report)).toEqual(['ok', 'node', 'checks']);
    expect(report).toMatchObject({ ok: true, node: 'doctor-node' });
    for (const c of report.checks)
      expect(Object.keys(c)).toEqual(['id', 'status', 'subject', 'message', 'remedy']);
    expect(rowsFor(report, good.host).map((c) => `${c.id}:${c.status}`)).toEqual([
      'tls.handshake:ok',
      'tls.names:ok',
      'tls.expiry:ok',
    ]);
    expect(
      report.checks.find((c) => c.id === 'registry.probe' && c.subject === good.host),
    ).toMatchObject({
      status: 'ok',
      message: expect.stringMatching(/\/v2\/ API .*HTTP 404/) as string,
    });
    const ids = new Set(report.checks.map((c) => c.id));
    for (const id of [
      'containerd.config',
      'trust.source',
      'trust.files',
      'trust.marker',
      'docker.certs-dir',
      'certificate.expiry',
      'certificate.ca',
    ])
      expect(ids).toContain(id);
  });

  it('wrong CA installed: the handshake fails and names the issuer, exit 1', async () => {
    const { config } = await node({ [keyOf(good)]: caB.cert });
    const { code, report } = await json(config);
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    const [handshake] = rowsFor(report, good.host);
    expect(handshake).toMatchObject({ id: 'tls.handshake', status: 'fail' });
    expect(handshake?.message).toContain('issued by "CN=doctor CA A"');
    // No probe after a failed handshake: it would only repeat the x509 error.
    expect(report.checks.some((c) => c.id === 'registry.probe' && c.subject === good.host)).toBe(
      false,
    );
    expect(report.checks[0]?.status).toBe('fail');
  });

  it('certificate for another name: tls.names fails and reports the SANs', async () => {
    const { config } = await node({ [keyOf(other)]: caA.cert });
    const { code, report } = await json(config);
    expect(code).toBe(1);
    const rows = rowsFor(report, other.host);
    expect(rows.find((c) => c.id === 'tls.handshake')?.status).toBe('ok');
    expect(rows.find((c) => c.id === 'tls.names')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('DNS:somewhere.else.local') as string,
    });
  });

  it('expired server certificate: trusted chain, tls.expiry fails', async () => {
    const { config } = await node({ [keyOf(expired)]: caA.cert });
    const { code, report } = await json(config);
    expect(code).toBe(1);
    const rows = rowsFor(report, expired.host);
    expect(rows.find((c) => c.id === 'tls.handshake')?.status).toBe('ok');
    expect(rows.find((c) => c.id === 'tls.expiry')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/^server certificate expired /) as string,
    });
  });

  it('a name the node cannot resolve fails the handshake row with the resolver error', async () => {
    const { config } = await node({ 'nowhere.invalid..5000': caA.cert });
    const { report } = await json(config);
    expect(rowsFor(report, 'nowhere.invalid:5000')[0]).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('cannot resolve nowhere.invalid') as string,
    });
  });

  it('text output: a table, failures first, no colour off a TTY; exit 1', async () => {
    const { config } = await node({ [keyOf(good)]: caA.cert }, { configPath: '/etc/elsewhere' });
    const run = await doctor(['--config', config]);
    expect(run.code).toBe(1);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^STATUS\s+CHECK\s+SUBJECT\s+MESSAGE/);
    expect(lines[1]).toMatch(/^FAIL\s+containerd\.config\s/);
    expect(lines[2]).toMatch(
      /^\s+fix: set config_path = ".*containerd-certs\.d".*restart containerd/,
    );
    expect(run.stdout).not.toContain('\u001b[');
    expect(run.stdout).toMatch(/node doctor-node: PROBLEMS FOUND \(1 failed/);
  });

  it('exit 2 on bad usage and on a bad config file', async () => {
    expect((await doctor(['--no-such-flag'])).code).toBe(2);
    const bad = path.join(root, 'bad.yaml');
    await writeFile(bad, 'trust: { nope: 1 }\n');
    const run = await doctor(['--config', bad]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown key trust.nope');
  });
});
