import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess } from '../support/agent.js';
import { makeCa } from '../support/pki.js';
import { waitFor } from '../support/poll.js';
import { createTrustSandbox } from '../support/trust-fixture.js';

const HOST_KEY = 'registry.test.local..5000';
const HOST = 'registry.test.local:5000';
const caA = makeCa('CA A', { keyIndex: 0 });
const caB = makeCa('CA B', { keyIndex: 1 });
const caC = makeCa('CA C', { keyIndex: 2 });

const read = (file: string) => readFile(file, 'utf8').catch(() => undefined);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('trust sync, the agent as a process, kubelet-style ConfigMap directory', () => {
  let box: Awaited<ReturnType<typeof createTrustSandbox>>;
  let agent: AgentProcess | undefined;

  beforeEach(async () => {
    box = await createTrustSandbox();
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = undefined;
    await box.remove();
  });

  const caFile = (dir: string, host = HOST) => path.join(dir, host, 'ca.crt');
  const getJson = async (p: string) => (await fetch(`${agent?.url ?? ''}${p}`)).json() as Promise<Record<string, unknown>>;

  it('writes ca.crt, hosts.toml and the marker in both certs dirs, and becomes ready', async () => {
    await box.source.write({ [HOST_KEY]: caA.cert, 'mirror.test.local': caB.cert });
    agent = await startAgentProcess({ config: box.config() });
    expect((await fetch(`${agent.url}/readyz`)).status).toBe(200);
    expect(await read(caFile(box.containerd))).toBe(caA.cert);
    expect(await read(caFile(box.docker))).toBe(caA.cert);
    expect(await read(caFile(box.containerd, 'mirror.test.local'))).toBe(caB.cert);
    expect(await read(path.join(box.containerd, HOST, 'hosts.toml'))).toContain(`[host."https://${HOST}"]`);
    expect(await read(path.join(box.docker, HOST, 'hosts.toml'))).toBeUndefined();
    const marker = JSON.parse((await read(path.join(box.containerd, HOST, '.node-ca'))) ?? '{}') as Record<string, string>;
    expect(marker).toMatchObject({ key: HOST_KEY, sha256: sha(caA.cert) });
    expect((await readdir(path.join(box.containerd, HOST))).sort()).toEqual(['.node-ca', 'ca.crt', 'hosts.toml']);
  });

  it('follows ..data swaps: update, key added, key removed', async () => {
    await box.source.write({ [HOST_KEY]: caA.cert });
    agent = await startAgentProcess({ config: box.config() });
    for (const [i, ca] of [caB, caC, caA, caB].entries()) {
      await box.source.write({ [HOST_KEY]: ca.cert, [`r${i}.test.local`]: ca.cert });
      await waitFor(async () => (await read(caFile(box.containerd))) === ca.cert, { message: `update ${i}` });
      await waitFor(async () => (await read(caFile(box.docker, `r${i}.test.local`))) === ca.cert);
      if (i > 0) await waitFor(async () => (await read(caFile(box.containerd, `r${i - 1}.test.local`))) === undefined);
    }
    await box.source.write({});
    // Both certs dirs are reconciled in turn: wait for each, not just the first.
    await waitFor(async () => (await readdir(box.containerd)).length === 0 && (await readdir(box.docker)).length === 0, {
      message: 'all owned dirs removed from both certs dirs',
    });
  });

  it('keeps the last good files for an invalid value, reports it, and never writes a private key', async () => {
    await box.source.write({ [HOST_KEY]: caA.cert, 'other.test.local': caB.cert });
    agent = await startAgentProcess({ config: box.config() });
    await box.source.write({ [HOST_KEY]: caA.cert + caA.key, 'other.test.local': 'not a pem', 'Bad_Key': caC.cert });
    await waitFor(async () => {
      const trust = (await getJson('/v1/status')).trust as { invalidKeys: { key: string }[] };
      return trust.invalidKeys.length === 3;
    }, { message: 'three invalid keys reported' });
    expect(await read(caFile(box.containerd))).toBe(caA.cert);
    expect(await read(caFile(box.containerd, 'other.test.local'))).toBe(caB.cert);
    const status = (await getJson('/v1/status')).trust as { invalidKeys: { key: string; reason: string }[] };
    expect(status.invalidKeys.find((k) => k.key === HOST_KEY)?.reason).toMatch(/PRIVATE KEY/);
    expect(status.invalidKeys.find((k) => k.key === 'Bad_Key')?.reason).toMatch(/lowercase/);
    const everything = await Promise.all(
      [box.containerd, box.docker].flatMap(async (d) => (await readdir(d, { recursive: true })).map((f) => path.join(d, f))),
    );
    for (const f of everything.flat()) {
      if ((await stat(f)).isFile()) expect(await read(f)).not.toContain('PRIVATE KEY');
    }
    expect(await readdir(box.containerd)).not.toContain('Bad_Key');
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toMatch(/^node_ca_invalid_keys 3$/m);
    expect(agent.logs.filter((l) => l.level === 40 && typeof l.key === 'string')).toHaveLength(3);
  });

  it('never touches an administrator directory, byte for byte, and reports the conflict', async () => {
    const adminDir = path.join(box.containerd, HOST);
    await mkdir(adminDir, { recursive: true });
    await writeFile(path.join(adminDir, 'ca.crt'), 'admin CA bytes\n');
    await writeFile(path.join(adminDir, 'hosts.toml'), 'server = "https://mirror"\n');
    await mkdir(path.join(box.containerd, 'admin-only.example'), { recursive: true });
    await writeFile(path.join(box.containerd, 'admin-only.example', 'ca.crt'), 'mine');
    await box.source.write({ [HOST_KEY]: caA.cert });
    agent = await startAgentProcess({ config: box.config() });
    const trust = (await getJson('/v1/status')).trust as { conflicts: { certsDir: string; host: string }[] };
    expect(trust.conflicts).toEqual([expect.objectContaining({ certsDir: box.containerd, host: HOST })]);
    expect(await read(path.join(adminDir, 'ca.crt'))).toBe('admin CA bytes\n');
    expect(await read(path.join(adminDir, 'hosts.toml'))).toBe('server = "https://mirror"\n');
    expect((await readdir(adminDir)).sort()).toEqual(['ca.crt', 'hosts.toml']);
    expect(await read(caFile(box.docker))).toBe(caA.cert);
    await box.source.write({});
    await waitFor(async () => (await read(caFile(box.docker))) === undefined);
    expect(await read(path.join(box.containerd, 'admin-only.example', 'ca.crt'))).toBe('mine');
    expect(await read(path.join(adminDir, 'ca.crt'))).toBe('admin CA bytes\n');
  });

  it('takes no ownership from a .node-ca that is not its marker for that directory', async () => {
    const junk = path.join(box.containerd, HOST);
    const copied = path.join(box.containerd, 'copied.test.local');
    for (const [dir, marker] of [[junk, 'not json\n'], [copied, JSON.stringify({ key: 'elsewhere.test.local', sha256: 'ab' })]] as const) {
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, '.node-ca'), marker);
      await writeFile(path.join(dir, 'ca.crt'), 'admin CA bytes\n');
    }
    await box.source.write({ [HOST_KEY]: caA.cert, 'other.test.local': caB.cert });
    agent = await startAgentProcess({ config: box.config() });
    const trust = (await getJson('/v1/status')).trust as { conflicts: { host: string; reason: string }[] };
    expect(trust.conflicts).toEqual([expect.objectContaining({ host: HOST, reason: expect.stringMatching(/not node-ca's marker/) as string })]);
    expect(await read(caFile(box.docker))).toBe(caA.cert);
    expect(await read(path.join(junk, 'ca.crt'))).toBe('admin CA bytes\n');
    expect((await readdir(junk)).sort()).toEqual(['.node-ca', 'ca.crt']);
    // The copied directory's key is not in the source: an owned one would be removed.
    expect(await read(path.join(copied, 'ca.crt'))).toBe('admin CA bytes\n');
  });

  it('keeps a departed key\'s directory that holds someone else\'s file, marked and reported, and writes it again when the key returns', async () => {
    await box.source.write({ [HOST_KEY]: caA.cert });
    agent = await startAgentProcess({ config: box.config({ trust: { resyncSeconds: 1 } }) });
    const hostDir = path.join(box.containerd, HOST);
    await writeFile(path.join(hostDir, 'client.cert'), 'admin client cert');
    await writeFile(path.join(box.docker, HOST, 'hosts.toml'), 'admin toml');
    await box.source.write({ 'other.test.local': caB.cert });
    await waitFor(async () => (await read(caFile(box.containerd))) === undefined && (await read(caFile(box.docker))) === undefined, {
      message: 'ca.crt of the departed key removed from both certs dirs',
    });
    expect((await readdir(hostDir)).sort()).toEqual(['.node-ca', 'client.cert']);
    // Docker dirs never get hosts.toml from node-ca, so one found there is not removed.
    expect((await readdir(path.join(box.docker, HOST))).sort()).toEqual(['.node-ca', 'hosts.toml']);
    const conflicts = async () => ((await getJson('/v1/status')).trust as { conflicts: { host: string; reason: string }[] }).conflicts;
    await waitFor(async () => (await conflicts()).length === 2, { message: 'both kept dirs reported' });
    // Still reported after later passes (resync every second), not only by the pass that removed the files.
    const syncs = async () => Number(/^node_ca_sync_total\{result="success"\} (\d+)$/m.exec(await (await fetch(`${agent?.url ?? ''}/metrics`)).text())?.[1]);
    const seen = await syncs();
    await waitFor(async () => (await syncs()) >= seen + 2, { message: 'two more passes' });
    expect((await conflicts()).map((c) => c.reason)).toEqual([expect.stringMatching(/client\.cert/), expect.stringMatching(/hosts\.toml/)]);
    expect((await fetch(`${agent.url}/readyz`)).status).toBe(200);
    await box.source.write({ [HOST_KEY]: caB.cert });
    await waitFor(async () => (await read(caFile(box.containerd))) === caB.cert, { message: 'the returning key written again' });
    expect(await read(path.join(hostDir, 'client.cert'))).toBe('admin client cert');
  });

  it('repairs drift on the periodic resync', async () => {
    await box.source.write({ [HOST_KEY]: caA.cert });
    agent = await startAgentProcess({ config: box.config({ trust: { resyncSeconds: 1 } }) });
    const toml = path.join(box.containerd, HOST, 'hosts.toml');
    const good = await read(toml);
    await writeFile(toml, 'skip_verify = true\n');
    await rm(caFile(box.docker));
    await waitFor(async () => (await read(toml)) === good && (await read(caFile(box.docker))) === caA.cert, {
      message: 'drift repaired',
    });
  });

  it('serves status and metrics per SPEC, and exits 0 on SIGTERM', async () => {
    await box.source.write({ [HOST_KEY]: caA.cert + caB.cert });
    agent = await startAgentProcess({ config: box.config() });
    const status = await getJson('/v1/status');
    expect(status.node).toBe('test-node');
    const trust = status.trust as { source: string; lastSyncTime: string; registries: Record<string, unknown>[] };
    expect(trust.source).toBe(`directory ${box.source.dir}`);
    expect(Date.parse(trust.lastSyncTime)).not.toBeNaN();
    expect(trust.registries[0]).toMatchObject({
      host: HOST,
      key: HOST_KEY,
      certificates: [
        { subject: 'CN=CA A', fingerprint: expect.stringMatching(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/) as string, expired: false },
        { subject: 'CN=CA B' },
      ],
      paths: [
        path.join(box.containerd, HOST, 'ca.crt'),
        path.join(box.containerd, HOST, 'hosts.toml'),
        path.join(box.containerd, HOST, '.node-ca'),
        path.join(box.docker, HOST, 'ca.crt'),
        path.join(box.docker, HOST, '.node-ca'),
      ],
    });
    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    expect(metrics).toMatch(/^node_ca_sync_total\{result="success"\} \d+$/m);
    expect(metrics).toMatch(/^node_ca_sync_duration_seconds_count \d+$/m);
    expect(metrics).toContain(`node_ca_registry_certificates{host="${HOST}"} 2`);
    expect(metrics).toMatch(/^node_ca_certificate_expiry_timestamp_seconds\{host="registry.test.local:5000",fingerprint="[0-9a-f:]+"\} \d+/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(await agent.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('is not ready and changes nothing while the source directory is missing', async () => {
    await mkdir(path.join(box.containerd, HOST), { recursive: true });
    await writeFile(path.join(box.containerd, HOST, '.node-ca'), JSON.stringify({ key: HOST_KEY, sha256: 'x' }));
    await writeFile(path.join(box.containerd, HOST, 'ca.crt'), caA.cert);
    agent = await startAgentProcess({ config: box.config() });
    expect((await fetch(`${agent.url}/readyz`)).status).toBe(503);
    expect(await read(caFile(box.containerd))).toBe(caA.cert);
    await box.source.write({ [HOST_KEY]: caB.cert });
    await waitFor(async () => (await fetch(`${agent?.url ?? ''}/readyz`)).status === 200, { message: 'ready once the source appears' });
    expect(await read(caFile(box.containerd))).toBe(caB.cert);
  });
});
