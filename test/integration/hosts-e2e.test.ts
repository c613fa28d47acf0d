import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess, loopbackServer } from '../support/agent.js';
import { startKubeApiDouble, type KubeApiDouble } from '../support/kube-api-double.js';
import { makeCa } from '../support/pki.js';
import { startPullFixture, type PullFixture } from '../support/pull-fixture.js';
import { waitFor } from '../support/poll.js';

const ns = 'image-registry-system';
const svcName = 'image-registry.image-registry-system.svc';

/**
 * Issue 3 end to end: the agent takes the CA from the API-watched ConfigMap
 * and the registry Service's address into a hosts file; that very file, bound
 * over /etc/hosts in a private mount namespace, is what lets `ctr` reach the
 * TLS registry by its Service name (ClusterIP replaced by 127.0.0.1).
 */
describe('hosts line + API CA source end to end with containerd and docker-registry', () => {
  let dir: string;
  let api: KubeApiDouble;
  let fixture: PullFixture | undefined;
  let agent: AgentProcess | undefined;
  const ca = makeCa('hosts e2e CA');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'node-ca-hosts-e2e-'));
    api = await startKubeApiDouble();
    fixture = await startPullFixture(dir, svcName, ca);
  });

  afterAll(async () => {
    await agent?.stop();
    await fixture?.stop();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('pulls by the Service name only once the agent has written its hosts line', async () => {
    const { registry: reg, containerd, resolver, image } = fixture!;
    const nodeHosts = path.join(dir, 'node-hosts');
    const certsDir = path.join(dir, 'certs.d');
    await writeFile(nodeHosts, '127.0.0.1 localhost\n::1 localhost\n');
    api.create('configmaps', {
      metadata: { namespace: ns, name: 'image-registry-certificates' },
      data: { [`${svcName}..${reg.port}`]: ca.cert },
    });
    agent = await startAgentProcess({
      config: {
        kubeconfig: api.kubeconfigPath,
        trust: { containerdCertsDir: certsDir, dockerCertsDir: '' },
        hosts: { file: nodeHosts },
        server: loopbackServer,
      },
    });
    await waitFor(
      async () =>
        (await readFile(path.join(certsDir, reg.host, 'ca.crt'), 'utf8').catch(() => '')) ===
        ca.cert,
      {
        timeoutMs: 15_000,
        message: 'ca.crt from the API-watched ConfigMap',
      },
    );
    // The agent's hosts file over /etc/hosts; the resolver's NXDOMAIN resolv.conf keeps DNS out of it.
    const prefix = [...resolver.prefix.slice(0, 7), nodeHosts, ...resolver.prefix.slice(8)];
    const pull = ['images', 'pull', '--hosts-dir', certsDir, image.ref];

    const before = await containerd.ctr(pull, { prefix });
    expect(before.exitCode).not.toBe(0);
    expect(before.stderr).toMatch(/no such host/);

    api.create('services', {
      metadata: { namespace: ns, name: 'image-registry' },
      spec: { type: 'ClusterIP', clusterIP: '127.0.0.1', clusterIPs: ['127.0.0.1'] },
    });
    await waitFor(
      async () =>
        (await readFile(nodeHosts, 'utf8')).includes(
          `127.0.0.1 ${svcName} ${svcName}.cluster.local # node-ca`,
        ),
      {
        timeoutMs: 15_000,
        message: 'the hosts line',
      },
    );
    const after = await containerd.ctr(pull, { prefix });
    expect(after.stderr).not.toMatch(/x509|no such host/);
    expect(after.exitCode).toBe(0);
    expect((await containerd.ctr(['images', 'ls', '-q'])).stdout.split('\n')).toContain(image.ref);
  });
});
