import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { V1Service } from '@kubernetes/client-node';
import { createKubeClient, type KubeClient } from '../../src/kube/client.js';
import { createKubeEventSink } from '../../src/kube/events.js';
import { createReviewer } from '../../src/kube/reviews.js';
import { createObjectWatch, type ObjectWatch } from '../../src/kube/watch.js';
import { createLogger } from '../../src/lib/logger.js';
import { createMetrics, type Metrics } from '../../src/lib/metrics.js';
import { ConfigError } from '../../src/lib/errors.js';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.js';
import { waitFor } from '../support/poll.js';

const logger = createLogger({ level: 'silent' });
const svc = (ns: string, name: string, ip: string) => ({
  metadata: { namespace: ns, name },
  spec: { clusterIP: ip, clusterIPs: [ip] },
});

let api: KubeApiDouble;
let client: KubeClient;
let metrics: Metrics;
let watch: ObjectWatch<V1Service> | undefined;
let changes = 0;

beforeEach(async () => {
  api = await startKubeApiDouble();
  client = createKubeClient({ kubeconfig: api.kubeconfigPath });
  metrics = createMetrics();
  changes = 0;
});
afterEach(async () => {
  await watch?.stop();
  watch = undefined;
  await api.close();
});

async function watchService(name = 'image-registry') {
  watch = createObjectWatch({
    client,
    resource: 'services',
    namespace: 'reg',
    name,
    logger,
    metrics,
    onChange: () => (changes += 1),
    backoff: { initialMs: 50, maxMs: 400 },
  });
  await watch.start();
  return watch;
}

const ipOf = (w: ObjectWatch<V1Service>) => w.current()?.spec?.clusterIP;
const counterValue = async (m: Metrics, name: 'watchRestarts' | 'apiErrors') =>
  (await m[name].get()).values.reduce((a, v) => a + v.value, 0);

describe('Kubernetes client against the API double', () => {
  it('lists one object by field selector in one namespace and ignores its namesakes', async () => {
    api.create('services', svc('reg', 'image-registry', '10.0.0.1'));
    api.create('services', svc('other', 'image-registry', '10.9.9.9'));
    api.create('services', svc('reg', 'something-else', '10.8.8.8'));
    const w = await watchService();
    expect(ipOf(w)).toBe('10.0.0.1');
    const list = api.requests.find((r) => r.path === '/api/v1/namespaces/reg/services' && !r.watch);
    expect(list?.query.fieldSelector).toBe('metadata.name=image-registry');
    await waitFor(() => w.state().connected, { message: 'connected' });
    const wr = api.requests.find((r) => r.watch);
    expect(wr?.query.fieldSelector).toBe('metadata.name=image-registry');
    expect(wr?.query.resourceVersion).toBe(String(api.resourceVersion));
  });

  it('knows an absent object as absent once listed, then sees it created, changed, deleted', async () => {
    const w = await watchService();
    expect(w.state().synced).toBe(true);
    expect(w.current()).toBeUndefined();
    api.create('services', svc('reg', 'image-registry', '10.0.0.1'));
    await waitFor(() => ipOf(w) === '10.0.0.1', { message: 'created' });
    api.update('services', svc('reg', 'image-registry', '10.0.0.2'));
    await waitFor(() => ipOf(w) === '10.0.0.2', { message: 'updated' });
    api.create('services', svc('other', 'image-registry', '10.9.9.9'));
    api.remove('services', 'reg', 'image-registry');
    await waitFor(() => w.current() === undefined, { message: 'deleted' });
    expect(changes).toBeGreaterThanOrEqual(3);
  });

  it('resumes from the last resourceVersion after a dropped connection, without relisting', async () => {
    api.create('services', svc('reg', 'image-registry', '10.0.0.1'));
    const w = await watchService();
    await waitFor(() => w.state().connected && api.watchCount === 1, { message: 'watching' });
    const seenRv = api.resourceVersion;
    const before = api.requests.length;
    api.dropConnections();
    api.update('services', svc('reg', 'image-registry', '10.0.0.2'));
    await waitFor(() => ipOf(w) === '10.0.0.2', {
      timeoutMs: 15_000,
      message: 'change after drop',
    });
    const after = api.requests.slice(before);
    expect(after.filter((r) => !r.watch)).toEqual([]);
    expect(after.find((r) => r.watch)?.query.resourceVersion).toBe(String(seenRv));
    expect(await counterValue(metrics, 'watchRestarts')).toBeGreaterThanOrEqual(1);
  });

  it('relists on 410 Gone and sees a deletion that happened while disconnected', async () => {
    api.create('services', svc('reg', 'image-registry', '10.0.0.1'));
    const w = await watchService();
    await waitFor(() => w.state().connected && api.watchCount === 1, { message: 'watching' });
    api.apiDown = 'refuse';
    api.remove('services', 'reg', 'image-registry');
    api.create('services', svc('reg', 'unrelated', '10.7.7.7'));
    api.compact();
    await waitFor(() => !w.state().connected, { message: 'disconnected' });
    expect(ipOf(w)).toBe('10.0.0.1');
    const before = api.requests.length;
    api.apiDown = false;
    await waitFor(() => w.current() === undefined, {
      timeoutMs: 15_000,
      message: 'deletion seen by relist',
    });
    const after = api.requests.slice(before);
    expect(after.some((r) => r.watch)).toBe(true);
    expect(after.some((r) => !r.watch && r.path === '/api/v1/namespaces/reg/services')).toBe(true);
  });

  it('keeps the last known object through an outage (503, then refused), with backoff, and recovers', async () => {
    api.create('services', svc('reg', 'image-registry', '10.0.0.1'));
    const w = await watchService();
    await waitFor(() => w.state().connected, { message: 'connected' });
    api.apiDown = 'unavailable';
    api.dropConnections();
    await waitFor(() => w.state().lastError?.startsWith('HTTP 503'), {
      timeoutMs: 15_000,
      message: '503 seen',
    });
    expect(w.state().connected).toBe(false);
    expect(ipOf(w)).toBe('10.0.0.1');
    const mark = api.requests.length;
    const t0 = Date.now();
    await waitFor(() => Date.now() - t0 > 1500, { message: 'outage time' });
    // 50 ms initial, 400 ms cap: at most a dozen tries in 1.5 s, not a hot loop.
    expect(api.requests.length - mark).toBeLessThan(15);
    api.apiDown = 'refuse';
    await waitFor(async () => (await counterValue(metrics, 'apiErrors')) >= 3, {
      message: 'errors counted',
    });
    api.update('services', svc('reg', 'image-registry', '10.0.0.3'));
    api.apiDown = false;
    await waitFor(() => ipOf(w) === '10.0.0.3' && w.state().connected, {
      timeoutMs: 15_000,
      message: 'recovered',
    });
    expect(await counterValue(metrics, 'watchRestarts')).toBeGreaterThanOrEqual(1);
  });

  it('answers TokenReview and SubjectAccessReview from the tables the test sets', async () => {
    api.tokens.set('good', {
      username: 'system:serviceaccount:ops:cleaner',
      groups: ['ops'],
      audiences: ['node-ca'],
    });
    api.accessRules.push({
      user: 'system:serviceaccount:ops:cleaner',
      resource: 'backups',
      verb: 'create',
      name: 'node-1',
    });
    const r = createReviewer(client, metrics);
    const ok = await r.reviewToken({ token: 'good', audiences: ['node-ca'] });
    expect(ok).toMatchObject({
      authenticated: true,
      user: { username: 'system:serviceaccount:ops:cleaner', groups: ['ops'] },
    });
    expect((await r.reviewToken({ token: 'good', audiences: ['other'] })).authenticated).toBe(
      false,
    );
    expect((await r.reviewToken({ token: 'bad' })).authenticated).toBe(false);
    const q = {
      user: 'system:serviceaccount:ops:cleaner',
      group: 'node-ca.alauda.io',
      resource: 'backups',
      verb: 'create',
    };
    expect((await r.reviewAccess({ ...q, name: 'node-1' })).allowed).toBe(true);
    expect((await r.reviewAccess({ ...q, name: 'node-2' })).allowed).toBe(false);
    expect(api.accessReviews[0]).toMatchObject({
      resourceAttributes: { group: 'node-ca.alauda.io', name: 'node-1' },
    });
    api.apiDown = 'unavailable';
    await expect(r.reviewToken({ token: 'good' })).rejects.toMatchObject({
      code: 'AUTH_UNAVAILABLE',
      status: 503,
    });
  });

  it('posts an event about the pod once per condition, not once per report', async () => {
    let t = 1_000_000;
    const sink = createKubeEventSink({
      client,
      nodeName: 'node-1',
      pod: { name: 'node-ca-abc', namespace: 'reg' },
      logger,
      metrics,
      now: () => t,
    });
    sink.warning('InvalidCAKey', 'key "x": bad');
    sink.warning('InvalidCAKey', 'key "x": bad');
    sink.normal('HostsUpdated', 'ok');
    await waitFor(() => api.events.length === 2, { message: 'two events' });
    t += 11 * 60_000;
    sink.warning('InvalidCAKey', 'key "x": bad');
    await waitFor(() => api.events.length === 3, { message: 'again after the window' });
    const ev = api.events[0]!;
    expect(ev).toMatchObject({
      type: 'Warning',
      reason: 'InvalidCAKey',
      regarding: { kind: 'Pod', name: 'node-ca-abc', namespace: 'reg' },
      reportingController: 'node-ca.alauda.io/agent',
    });
    expect(ev.metadata.namespace).toBe('reg');
  });

  it('forgets conditions a window old, so messages that never repeat do not pile up for the life of the pod', async () => {
    let t = 1_000_000;
    const sink = createKubeEventSink({ client, nodeName: 'node-1', logger, metrics, now: () => t, dedupeWindowMs: 60_000, perMinute: 20 });
    // Five minutes of a condition whose message changes every time, 10 a minute.
    for (let i = 0; i < 50; i++) {
      sink.warning('Flapping', `attempt ${i}`);
      t += 6_000;
    }
    await waitFor(() => api.events.length === 50, { message: 'fifty events' });
    expect(sink.remembered).toBeLessThanOrEqual(10);
    // Within the window, a message is still posted once; after it, again.
    sink.warning('Flapping', 'attempt 49');
    sink.warning('Flapping', 'attempt 0');
    await waitFor(() => api.events.length === 51, { message: 'the forgotten message posted again' });
    expect(api.events.at(-1)?.note).toBe('attempt 0');
    expect(api.events.filter((e) => e.note === 'attempt 49')).toHaveLength(1);
  });

  it('refuses to start without a kubeconfig outside a cluster instead of trying localhost:8080', () => {
    expect(() => createKubeClient({})).toThrow(ConfigError);
    expect(() => createKubeClient({ kubeconfig: '/nonexistent/kubeconfig' })).toThrow(
      /cannot load/,
    );
  });
});
