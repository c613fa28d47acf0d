import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess } from '../support/agent.js';
import { makeCa } from '../support/pki.js';
import { waitFor } from '../support/poll.js';
import { createTrustSandbox } from '../support/trust-fixture.js';

/** A Kubernetes API server that accepts connections and never answers: an overloaded apiserver, or a load balancer in front of a dead one. */
let stalled: Server;
let sockets: Socket[];
let dir: string;
let box: Awaited<ReturnType<typeof createTrustSandbox>>;
let agent: AgentProcess | undefined;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise((resolve) => s.close(resolve));
  return port;
}

beforeEach(async () => {
  sockets = [];
  stalled = createServer((s) => {
    sockets.push(s);
    s.resume();
  });
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-stall-'));
  box = await createTrustSandbox();
});
afterEach(async () => {
  await agent?.stop('SIGKILL');
  agent = undefined;
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => stalled.close(resolve));
  await box.remove();
  await rm(dir, { recursive: true, force: true });
});

describe('the agent beside a stalled API server', () => {
  it('syncs trust from its directory and becomes ready without waiting for the Service watch', async () => {
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, JSON.stringify({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'x',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${(stalled.address() as { port: number }).port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    }));
    const hostsFile = path.join(dir, 'hosts');
    await writeFile(hostsFile, '127.0.0.1 localhost\n');
    const ca = makeCa('stall CA');
    await box.source.write({ 'registry.test.local..5000': ca.cert });
    const port = await freePort();
    const config = { ...box.config({ server: { listen: `127.0.0.1:${port}` } }), kubeconfig, hosts: { file: hostsFile } };
    agent = await startAgentProcess({ config, waitStarted: false });
    // The Service list hangs (each API request is abandoned after 30 s); trust does not wait for it.
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, {
      timeoutMs: 15_000,
      message: '/readyz 200 while the API server is stalled',
    });
    expect(await readFile(path.join(box.containerd, 'registry.test.local:5000', 'ca.crt'), 'utf8')).toBe(ca.cert);
    expect(sockets.length).toBeGreaterThan(0);
    // The hosts file is left as it was: the Service's address is unknown.
    expect(await readFile(hostsFile, 'utf8')).toBe('127.0.0.1 localhost\n');
  });
});
