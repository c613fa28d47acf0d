import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess, loopbackServer } from '../support/agent.js';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.js';
import { makeCa } from '../support/pki.js';
import { waitFor } from '../support/poll.js';

const ns = 'image-registry-system';
const key = 'image-registry.image-registry-system.svc..5000';
const host = 'image-registry.image-registry-system.svc:5000';
const cm = (data: Record<string, string>) => ({
  metadata: { namespace: ns, name: 'image-registry-certificates' },
  data,
});

let api: KubeApiDouble;
let dir: string;
let agent: AgentProcess | undefined;

beforeEach(async () => {
  api = await startKubeApiDouble();
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-cm-'));
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

const caFile = () => path.join(dir, 'certs.d', host, 'ca.crt');
const readCa = () => readFile(caFile(), 'utf8').catch(() => '');

describe('agent: the API-watched CA source', () => {
  it('writes ca.crt from the ConfigMap, follows changes, and posts one event per invalid key, not one per resync', async () => {
    const ca1 = makeCa('registry-ca-1');
    const ca2 = makeCa('registry-ca-2', { keyIndex: 2 });
    api.create('configmaps', cm({ [key]: ca1.cert, Not_A_Host: ca1.cert }));
    agent = await startAgentProcess({
      config: {
        kubeconfig: api.kubeconfigPath,
        trust: {
          containerdCertsDir: path.join(dir, 'certs.d'),
          dockerCertsDir: '',
          resyncSeconds: 1,
        },
        hosts: { file: '' },
        server: loopbackServer,
      },
      env: { POD_NAME: 'node-ca-x1', POD_NAMESPACE: ns },
    });
    await waitFor(async () => (await readCa()) === ca1.cert, {
      timeoutMs: 15_000,
      message: 'ca.crt written',
    });
    // A key under binaryData counts as well, as it does in a mounted ConfigMap.
    api.update('configmaps', { ...cm({ [key]: ca2.cert, Not_A_Host: ca1.cert }), binaryData: { 'mirror.test.local': Buffer.from(ca1.cert).toString('base64') } });
    await waitFor(async () => (await readCa()) === ca2.cert, {
      timeoutMs: 15_000,
      message: 'ca.crt replaced',
    });
    await waitFor(async () => (await readFile(path.join(dir, 'certs.d', 'mirror.test.local', 'ca.crt'), 'utf8').catch(() => '')) === ca1.cert, {
      timeoutMs: 15_000,
      message: 'the binaryData key written',
    });
    await waitFor(
      async () =>
        (await (await fetch(`${agent?.url ?? ''}/metrics`)).text()).match(
          /^node_ca_sync_total\{result="success"\} ([4-9]|\d\d)/m,
        ),
      {
        timeoutMs: 15_000,
        message: 'several resyncs',
      },
    );
    const invalid = api.events.filter((e) => e.reason === 'InvalidCAKey');
    expect(invalid).toHaveLength(1);
    expect(invalid[0]).toMatchObject({
      type: 'Warning',
      regarding: { kind: 'Pod', name: 'node-ca-x1', namespace: ns },
    });
    const status = (await (await fetch(`${agent.url ?? ''}/v1/status`)).json()) as {
      trust: { source: string };
      api: { watches: { watch: string; connected: boolean }[] };
    };
    expect(status.trust.source).toBe(`configmap ${ns}/image-registry-certificates`);
    expect(status.api.watches).toEqual([
      expect.objectContaining({
        watch: `configmaps/${ns}/image-registry-certificates`,
        connected: true,
      }),
    ]);
  });

  it('keeps ca.crt when the ConfigMap is deleted or the API is down', async () => {
    const ca1 = makeCa('registry-ca-1');
    api.create('configmaps', cm({ [key]: ca1.cert }));
    agent = await startAgentProcess({
      config: {
        kubeconfig: api.kubeconfigPath,
        trust: { containerdCertsDir: path.join(dir, 'certs.d'), dockerCertsDir: '' },
        hosts: { file: '' },
        server: loopbackServer,
      },
    });
    await waitFor(async () => (await readCa()) === ca1.cert, {
      timeoutMs: 15_000,
      message: 'ca.crt written',
    });
    api.remove('configmaps', ns, 'image-registry-certificates');
    await agent.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('trust sync failed'));
    api.apiDown = 'refuse';
    await agent.waitForLog((l) => l.msg?.startsWith('Kubernetes list or watch failed') === true);
    expect(await readCa()).toBe(ca1.cert);
  });

  it('fails fast without a kubeconfig outside a cluster', async () => {
    agent = await startAgentProcess({
      config: {
        trust: { containerdCertsDir: path.join(dir, 'certs.d'), dockerCertsDir: '' },
        hosts: { file: '' },
        server: { listen: '', socket: '' },
      },
      waitStarted: false,
    });
    const exit = await agent.exited;
    expect(exit.code).toBe(2);
    expect(agent.stderr.join('\n')).toMatch(/kubeconfig: none given/);
  });
});
