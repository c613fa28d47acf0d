import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess, loopbackServer } from '../support/agent.js';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.js';
import { waitFor } from '../support/poll.js';

const ns = 'image-registry-system';
const names = `image-registry.${ns}.svc image-registry.${ns}.svc.cluster.local`;
const line = (ip: string) => `${ip} ${names} # node-ca`;
const svc = (namespace: string, ips: string[]) => ({
  metadata: { namespace, name: 'image-registry' },
  spec: { clusterIP: ips[0], clusterIPs: ips },
});
// Tabs, a comment, blank lines, trailing blanks, CRLF and no final newline: all must survive.
const foreign =
  '# admin table\n127.0.0.1\tlocalhost\n\n::1   localhost ip6-localhost  \n10.1.1.1 other\r\n# last line, no newline';

let api: KubeApiDouble;
let dir: string;
let agent: AgentProcess | undefined;

beforeEach(async () => {
  api = await startKubeApiDouble();
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-hosts-'));
  await mkdir(path.join(dir, 'ca'));
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

function config(hostsFile: string) {
  return {
    kubeconfig: api.kubeconfigPath,
    trust: {
      sourceDir: path.join(dir, 'ca'),
      containerdCertsDir: path.join(dir, 'certs.d'),
      dockerCertsDir: '',
    },
    hosts: { file: hostsFile, services: [{ namespace: ns, name: 'image-registry' }] },
    server: loopbackServer,
  };
}

interface Status {
  hosts: {
    entries: { ip: string }[];
    services: { state: string }[];
    lastSyncTime: string | null;
    lastWrite: { time: string; mode: string } | null;
    errors: string[];
  };
  api: { connected: boolean; lastError: string | null; lastEventTime: string | null };
}
const status = async (): Promise<Status> =>
  (await (await fetch(`${agent?.url ?? ''}/v1/status`)).json()) as Status;
const contentIs = (file: string, expected: string) =>
  waitFor(async () => (await readFile(file, 'utf8')) === expected, {
    timeoutMs: 15_000,
    message: `hosts file = ${JSON.stringify(expected)}`,
  });

describe('agent: registry Service to the hosts file', () => {
  it('follows create, change, dual-stack and delete in a plain file, keeping foreign bytes, mode and owner', async () => {
    const hosts = path.join(dir, 'hosts');
    await writeFile(hosts, foreign);
    await chmod(hosts, 0o640);
    await chown(hosts, 1234, 5678);
    agent = await startAgentProcess({ config: config(hosts) });
    api.create('services', svc('elsewhere', ['10.9.9.9']));
    api.create('services', svc(ns, ['10.96.0.10']));
    await contentIs(hosts, `${foreign}\n${line('10.96.0.10')}`);
    api.update('services', svc(ns, ['10.96.0.11']));
    await contentIs(hosts, `${foreign}\n${line('10.96.0.11')}`);
    api.update('services', svc(ns, ['10.96.0.11', 'fd00:10:96::b']));
    await contentIs(hosts, `${foreign}\n${line('10.96.0.11')}\n${line('fd00:10:96::b')}`);
    const st = await stat(hosts);
    expect([st.mode & 0o777, st.uid, st.gid]).toEqual([0o640, 1234, 5678]);
    const s = await status();
    expect(s.hosts.lastWrite?.mode).toBe('rename');
    expect(s.hosts.entries.map((e) => e.ip)).toEqual(['10.96.0.11', 'fd00:10:96::b']);
    expect(s.api.connected).toBe(true);
    const metrics = await (await fetch(`${agent.url ?? ''}/metrics`)).text();
    expect(metrics).toMatch(/^node_ca_hosts_entries 2$/m);
    api.remove('services', ns, 'image-registry');
    await contentIs(hosts, foreign);
    expect((await readFile(hosts, 'utf8')).includes('10.9.9.9')).toBe(false);
  });

  it('rewrites a bind-mounted hosts file in place (rename would fail with EBUSY)', async () => {
    const hostSide = path.join(dir, 'host-etc-hosts');
    const podSide = path.join(dir, 'pod', 'hosts');
    await writeFile(hostSide, foreign);
    await mkdir(path.dirname(podSide));
    await writeFile(podSide, '');
    const inode = (await stat(hostSide)).ino;
    agent = await startAgentProcess({
      config: config(podSide),
      prefix: [
        'unshare',
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount --bind "$1" "$2" && shift 2 && exec "$@"',
        'sh',
        hostSide,
        podSide,
      ],
    });
    api.create('services', svc(ns, ['10.96.0.10']));
    await contentIs(hostSide, `${foreign}\n${line('10.96.0.10')}`);
    api.update('services', svc(ns, ['10.96.0.12']));
    await contentIs(hostSide, `${foreign}\n${line('10.96.0.12')}`);
    expect((await stat(hostSide)).ino).toBe(inode);
    expect((await status()).hosts.lastWrite?.mode).toBe('in-place');
    expect(await readFile(podSide, 'utf8')).toBe('');
  });

  it('follows a CRLF file: CRLF lines, no rewrite on resyncs while nothing changes, a new address in place', async () => {
    const hosts = path.join(dir, 'hosts');
    const crlf = '# edited on Windows\r\n127.0.0.1 localhost\r\n10.1.1.1 other\r\n';
    await writeFile(hosts, crlf);
    agent = await startAgentProcess({
      config: { ...config(hosts), trust: { ...config(hosts).trust, resyncSeconds: 1 } },
    });
    api.create('services', svc(ns, ['10.96.0.10']));
    await contentIs(hosts, `${crlf}${line('10.96.0.10')}\r\n`);
    const written = await waitFor(async () => (await status()).hosts.lastWrite ?? undefined, {
      timeoutMs: 15_000,
      message: 'lastWrite reported',
    });
    const before = await stat(hosts);
    const resyncs = new Set<string>();
    await waitFor(
      async () => {
        const t = (await status()).hosts.lastSyncTime;
        if (t !== null && t > written.time) resyncs.add(t);
        return resyncs.size >= 2;
      },
      { timeoutMs: 15_000, message: 'two resyncs after the write' },
    );
    const after = await stat(hosts);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect((await status()).hosts.lastWrite).toEqual(written);
    api.update('services', svc(ns, ['10.96.0.11']));
    await contentIs(hosts, `${crlf}${line('10.96.0.11')}\r\n`);
  });

  it('keeps the lines through an API outage and writes the new address on recovery', async () => {
    const hosts = path.join(dir, 'hosts');
    await writeFile(hosts, foreign);
    api.create('services', svc(ns, ['10.96.0.10']));
    agent = await startAgentProcess({ config: config(hosts) });
    await contentIs(hosts, `${foreign}\n${line('10.96.0.10')}`);
    api.apiDown = 'refuse';
    await waitFor(async () => !(await status()).api.connected, {
      timeoutMs: 15_000,
      message: 'API seen down',
    });
    api.apiDown = 'unavailable';
    await waitFor(async () => (await status()).api.lastError?.startsWith('HTTP 503'), {
      timeoutMs: 20_000,
      message: '503 seen',
    });
    api.update('services', svc(ns, ['10.96.0.20']));
    expect(await readFile(hosts, 'utf8')).toBe(`${foreign}\n${line('10.96.0.10')}`);
    expect((await status()).hosts.entries.map((e) => e.ip)).toEqual(['10.96.0.10']);
    api.apiDown = false;
    await contentIs(hosts, `${foreign}\n${line('10.96.0.20')}`);
    await waitFor(async () => (await status()).api.connected, {
      timeoutMs: 15_000,
      message: 'reconnected',
    });
  });

  it('reports a headless Service once, writes nothing for it', async () => {
    const hosts = path.join(dir, 'hosts');
    await writeFile(hosts, foreign);
    api.create('services', {
      metadata: { namespace: ns, name: 'image-registry' },
      spec: { clusterIP: 'None', clusterIPs: ['None'] },
    });
    agent = await startAgentProcess({
      config: { ...config(hosts), trust: { ...config(hosts).trust, resyncSeconds: 1 } },
    });
    await waitFor(async () => (await status()).hosts.services[0]?.state === 'headless', {
      timeoutMs: 15_000,
      message: 'headless',
    });
    await waitFor(
      async () =>
        (await (await fetch(`${agent?.url ?? ''}/metrics`)).text()).match(
          /^node_ca_sync_total\{result="success"\} ([3-9]|\d\d)/m,
        ),
      {
        timeoutMs: 15_000,
        message: 'three resyncs',
      },
    );
    expect(api.events.filter((e) => e.reason === 'ServiceNotMappable')).toHaveLength(1);
    expect(await readFile(hosts, 'utf8')).toBe(foreign);
  });
});
