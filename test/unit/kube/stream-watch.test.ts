import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeClient } from '../../../src/kube/client.js';
import { createStreamWatch } from '../../../src/kube/stream-watch.js';
import { createObjectWatch } from '../../../src/kube/watch.js';
import { createLogger } from '../../../src/lib/logger.js';
import { createMetrics } from '../../../src/lib/metrics.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A plain-HTTP API server (kubeconfig with insecure-skip-tls-verify), closed sockets counted. */
async function apiServer(handler: Handler) {
  const state = { closed: 0, urls: [] as URL[] };
  const server: Server = createServer((req, res) => {
    state.urls.push(new URL(req.url ?? '/', 'http://x'));
    handler(req, res);
  });
  server.on('connection', (s) => s.on('close', () => (state.closed += 1)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  const dir = await mkdtemp(path.join(tmpdir(), 'node-ca-stream-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  const port = (server.address() as { port: number }).port;
  await writeFile(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'x',
    clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 't' } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
  }));
  return { state, client: createKubeClient({ kubeconfig }) };
}

function streamEnd(handler: Handler, limits: { connectMs: number; serverTimeoutSeconds: () => number; graceMs: number }) {
  return apiServer(handler).then(({ state, client }) => {
    const ended = new Promise<{ err: unknown; livedMs: number }>((resolve) => {
      const w = createStreamWatch(client.kubeConfig, { onEvent: () => undefined, onOpen: () => undefined, onEnd: (err, livedMs) => {
        resolve({ err, livedMs });
      } }, limits);
      void w.watch('/api/v1/namespaces/ns/services', { fieldSelector: 'metadata.name=s' }, () => undefined, () => undefined);
    });
    return { state, ended };
  });
}

describe('watch streams with time limits', () => {
  it('ends a watch request the API server never answers, closing its connection', async () => {
    const { state, ended } = await streamEnd(() => undefined, { connectMs: 300, serverTimeoutSeconds: () => 5, graceMs: 100 });
    const { err, livedMs } = await ended;
    expect(String(err)).toMatch(/no answer from the API server in 0.3 s/);
    expect(livedMs).toBeLessThan(2000);
    await expect.poll(() => state.closed, { timeout: 3000 }).toBe(1);
  });

  it('asks the server for a timeout and bookmarks, and cuts a stream that stays silent past it', async () => {
    const { state, ended } = await streamEnd((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    }, { connectMs: 5000, serverTimeoutSeconds: () => 1, graceMs: 200 });
    const { err, livedMs } = await ended;
    expect(String(err)).toMatch(/stayed silent past its 1 s timeout/);
    expect(livedMs).toBeGreaterThanOrEqual(1100);
    expect(livedMs).toBeLessThan(4000);
    expect(state.urls[0]?.searchParams.get('timeoutSeconds')).toBe('1');
    expect(state.urls[0]?.searchParams.get('allowWatchBookmarks')).toBe('true');
    await expect.poll(() => state.closed, { timeout: 3000 }).toBe(1);
  });

  it('backs off more and more when every stream is dropped right after it opened', async () => {
    let watches = 0;
    const { client } = await apiServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (!(req.url ?? '').includes('watch=true')) {
        res.end(JSON.stringify({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }));
        return;
      }
      watches += 1;
      res.flushHeaders();
      setTimeout(() => res.end(), 50);
    });
    const w = createObjectWatch({ client, resource: 'services', namespace: 'ns', name: 's', logger: createLogger({ level: 'silent' }), metrics: createMetrics(), onChange: () => undefined, backoff: { initialMs: 100, maxMs: 10_000 } });
    cleanups.push(() => w.stop());
    await w.start();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // Delays 50–100, 100–200, 200–400, 400–800 ms …: at most 7 streams in 2.5 s; a delay that never
    // grows (reset on every open) gave one stream per 50 ms open plus a 50–100 ms wait, about 20.
    expect(watches).toBeGreaterThanOrEqual(3);
    expect(watches).toBeLessThanOrEqual(8);
  });
});
