import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliPath, startAgentProcess, type AgentProcess, loopbackServer } from '../support/agent.js';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.js';
import { waitFor } from '../support/poll.js';

const ns = 'image-registry-system';
const short = `image-registry.${ns}.svc`;
const names = `${short} ${short}.cluster.local`;
const line = (ip: string) => `${ip} ${names} # node-ca`;
const svc = (ips: string[]) => ({
  metadata: { namespace: ns, name: 'image-registry' },
  spec: { clusterIP: ips[0], clusterIPs: ips },
});
const cm = (data: Record<string, string>) => ({
  metadata: { namespace: ns, name: 'image-registry-certificates' },
  data,
});

interface Check {
  id: string;
  status: string;
  subject: string;
  message: string;
  remedy: string;
}
interface Report {
  ok: boolean;
  node: string;
  checks: Check[];
}

describe('doctor /etc/hosts and API source checks, with the kube-apiserver double', () => {
  let api: KubeApiDouble;
  let dir: string;
  let hostsFile: string;
  let agent: AgentProcess | undefined;

  beforeEach(async () => {
    api = await startKubeApiDouble();
    dir = await mkdtemp(path.join(tmpdir(), 'node-ca-doctor-hosts-'));
    hostsFile = path.join(dir, 'hosts');
    api.create('configmaps', cm({}));
    api.create('services', svc(['10.96.0.20']));
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = undefined;
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Trust through the API ConfigMap source, no certs dirs: only the source and hosts checks run. */
  const config = () => ({
    nodeName: 'hosts-node',
    kubeconfig: api.kubeconfigPath,
    trust: { containerdCertsDir: '', dockerCertsDir: '' },
    hosts: { file: hostsFile, services: [{ namespace: ns, name: 'image-registry' }] },
  });

  async function doctor(): Promise<{ code: number | null; report: Report }> {
    const file = path.join(dir, 'node-ca.json');
    await writeFile(file, JSON.stringify(config()));
    const child = spawn(process.execPath, [cliPath, 'doctor', '--config', file, '--json'], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { code, report: JSON.parse(out) as Report };
  }
  const rows = (r: Report, prefix: string) =>
    r.checks.filter((c) => c.id.startsWith(prefix)).map((c) => `${c.id}:${c.status}`);

  it('passes when node-ca lines map the names to the current ClusterIP (exit 0)', async () => {
    await writeFile(hostsFile, `127.0.0.1 localhost\n${line('10.96.0.20')}\n`);
    const { code, report } = await doctor();
    expect(rows(report, 'hosts.')).toEqual([
      'hosts.service:ok',
      'hosts.service:ok',
      'hosts.duplicate:ok',
    ]);
    expect(report.checks.find((c) => c.id === 'trust.source')).toMatchObject({
      status: 'warn',
      subject: `configmap ${ns}/image-registry-certificates`,
    });
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
  });

  it('fails when the Service moved to a new ClusterIP and the line is stale (exit 1)', async () => {
    await writeFile(hostsFile, `${line('10.96.0.20')}\n`);
    api.update('services', svc(['10.96.0.77']));
    const { code, report } = await doctor();
    expect(code).toBe(1);
    const first = report.checks[0];
    expect(first).toMatchObject({ id: 'hosts.service', status: 'fail' });
    expect(first?.message).toContain(
      'maps to 10.96.0.20; Service image-registry-system/image-registry has ClusterIP 10.96.0.77',
    );
  });

  it('fails on a hand-written line naming the Service elsewhere', async () => {
    await writeFile(hostsFile, `10.0.0.5 ${short}\n${line('10.96.0.20')}\n`);
    const { code, report } = await doctor();
    expect(code).toBe(1);
    expect(report.checks.find((c) => c.id === 'hosts.duplicate')).toMatchObject({
      status: 'fail',
      subject: `${hostsFile}:1`,
      remedy: expect.stringContaining(`sed -i '1d' ${hostsFile}`) as string,
    });
  });

  it('API down: hosts lines cannot be compared (warn), the ConfigMap cannot be read (fail)', async () => {
    await writeFile(hostsFile, `${line('10.96.0.20')}\n`);
    api.apiDown = 'refuse';
    const { code, report } = await doctor();
    expect(code).toBe(1);
    expect(rows(report, 'hosts.service')).toEqual(['hosts.service:warn', 'hosts.service:warn']);
    expect(report.checks.find((c) => c.id === 'trust.source')?.status).toBe('fail');
  });

  it('reads the CA ConfigMap through the API: an invalid key is reported', async () => {
    await writeFile(hostsFile, `${line('10.96.0.20')}\n`);
    api.update('configmaps', cm({ Not_A_Host: 'x' }));
    const { report } = await doctor();
    expect(report.checks[0]).toMatchObject({
      id: 'trust.invalid-key',
      status: 'fail',
      subject: 'Not_A_Host',
    });
  });

  it('GET /v1/trust on the agent answers the same report shape, computed when asked', async () => {
    await writeFile(hostsFile, '127.0.0.1 localhost\n');
    agent = await startAgentProcess({
      config: {
        ...config(),
        server: loopbackServer,
      },
    });
    await waitFor(async () => (await readFile(hostsFile, 'utf8')).includes(line('10.96.0.20')), {
      timeoutMs: 20_000,
      message: 'agent writes the hosts line',
    });
    const res = await fetch(`${agent.url ?? ''}/v1/trust`);
    expect(res.status).toBe(200);
    const report = (await res.json()) as Report;
    expect(Object.keys(report)).toEqual(['ok', 'node', 'checks']);
    expect(report.node).toBe('hosts-node');
    expect(rows(report, 'hosts.')).toEqual([
      'hosts.service:ok',
      'hosts.service:ok',
      'hosts.duplicate:ok',
    ]);
    await writeFile(
      hostsFile,
      '127.0.0.1 localhost\n10.1.1.1 image-registry.image-registry-system.svc\n',
    );
    const again = (await (await fetch(`${agent.url ?? ''}/v1/trust`)).json()) as Report;
    expect(again.ok).toBe(false);
    expect(again.checks[0]?.id).toBe('hosts.service');
  });
});
