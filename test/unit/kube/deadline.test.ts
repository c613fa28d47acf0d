import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKubeClient, withDeadline } from '../../../src/kube/client.js';

/** An API server that accepts connections and never answers: a stalled apiserver or load balancer. */
let server: Server;
let sockets: Socket[];
let closed: number;
let dir: string;
let kubeconfig: string;

beforeEach(async () => {
  sockets = [];
  closed = 0;
  server = createServer((s) => {
    sockets.push(s);
    s.resume();
    s.on('close', () => (closed += 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-deadline-'));
  kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
});
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('withDeadline', () => {
  it('ends a request to an API server that never answers, and closes its connection', async () => {
    const client = createKubeClient({ kubeconfig });
    const t0 = performance.now();
    await expect(client.core.listNamespacedService({ namespace: 'ns' }, withDeadline(400))).rejects.toThrow(/abort/i);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(sockets.length).toBe(1);
    // The client closed its end: no socket is left behind per abandoned request.
    await expect.poll(() => closed, { timeout: 3000 }).toBe(1);
  });
});
