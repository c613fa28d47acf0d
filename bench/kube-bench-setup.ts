import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAgentProcess, loopbackServer } from '../test/support/agent.js';
import { startKubeApiDouble } from '../test/support/kube-api-double.js';
import { makeCa } from '../test/support/pki.js';

export const ns = 'image-registry-system';
export const caKey = 'image-registry.image-registry-system.svc..5000';

/** The API double with the registry Service and CA ConfigMap, and the built agent watching both. */
export async function startKubeBench(name: string) {
  const api = await startKubeApiDouble();
  const dir = await mkdtemp(path.join(tmpdir(), `node-ca-${name}-`));
  const hostsFile = path.join(dir, 'hosts');
  await writeFile(hostsFile, '127.0.0.1 localhost\n');
  const cas = [makeCa(`${name}-ca-a`), makeCa(`${name}-ca-b`, { keyIndex: 2 })] as const;
  api.create('configmaps', {
    metadata: { namespace: ns, name: 'image-registry-certificates' },
    data: { [caKey]: cas[0].cert },
  });
  api.create('services', {
    metadata: { namespace: ns, name: 'image-registry' },
    spec: { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'] },
  });
  const agent = await startAgentProcess({
    config: {
      kubeconfig: api.kubeconfigPath,
      trust: { containerdCertsDir: path.join(dir, 'certs.d'), dockerCertsDir: '' },
      hosts: { file: hostsFile },
      server: loopbackServer,
    },
    env: { NODE_NAME: 'bench-node' },
  });
  return {
    api,
    agent,
    dir,
    hostsFile,
    cas,
    close: async () => {
      await agent.stop();
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
