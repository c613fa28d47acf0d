import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createProjectedConfigMap } from './kubelet.ts';

/** A sandbox for one agent: kubelet-style source dir, two certs dirs, a state dir. */
export async function createTrustSandbox() {
  const root = await mkdtemp(path.join(tmpdir(), 'node-ca-it-'));
  const source = createProjectedConfigMap(path.join(root, 'ca-bundle'));
  const containerd = path.join(root, 'containerd-certs.d');
  const docker = path.join(root, 'docker-certs.d');
  return {
    root,
    source,
    containerd,
    docker,
    /** An agent config on loopback, plain HTTP, no auth, no hosts file. */
    config(overrides: { trust?: Record<string, unknown>; server?: Record<string, unknown> } = {}) {
      return {
        nodeName: 'test-node',
        trust: { sourceDir: source.dir, containerdCertsDir: containerd, dockerCertsDir: docker, ...overrides.trust },
        hosts: { file: '' },
        server: { listen: '127.0.0.1:0', tls: { mode: 'disabled' }, auth: { mode: 'none' }, socket: '', ...overrides.server },
        backup: { dir: path.join(root, 'backup'), stateDir: path.join(root, 'state'), sources: { minio: path.join(root, 'minio') } },
      };
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
