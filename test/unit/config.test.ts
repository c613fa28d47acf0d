import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, type ConfigEnv } from '../../src/config/load.js';
import { ConfigError } from '../../src/lib/errors.js';

function problems(raw: unknown, env: ConfigEnv = {}): string[] {
  try {
    parseConfig(raw, env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('parseConfig', () => {
  it('fills SPEC defaults', () => {
    const c = parseConfig({}, { NODE_NAME: 'node-1' });
    expect(c.nodeName).toBe('node-1');
    expect(c.trust.containerdCertsDir).toBe('/etc/containerd/certs.d');
    expect(c.trust.dockerCertsDir).toBe('/etc/docker/certs.d');
    expect(c.trust.configMap).toEqual({ namespace: 'image-registry-system', name: 'image-registry-certificates' });
    expect(c.trust.resyncSeconds).toBe(300);
    expect(c.hosts).toEqual({
      file: '/etc/hosts',
      clusterDomain: 'cluster.local',
      services: [{ namespace: 'image-registry-system', name: 'image-registry' }],
    });
    expect(c.server).toEqual({
      listen: '0.0.0.0:9443',
      tls: { mode: 'self-signed' },
      socket: '/var/run/node-ca/agent.sock',
      auth: { mode: 'kubernetes', audiences: [] },
    });
    expect(c.backup).toEqual({ sources: { minio: '/cpaas/minio' }, dir: '/cpaas/backup', stateDir: '/var/lib/node-ca', minFreePercent: 10 });
    expect(c.pull.runtime).toBe('auto');
    expect(Object.isFrozen(c.trust)).toBe(true);
  });

  it('takes NODE_NAME, NODE_IP, KUBECONFIG, POD_* from the environment; the file wins', () => {
    const env = { NODE_NAME: 'env-node', NODE_IP: '10.1.2.3', KUBECONFIG: '/k', POD_NAME: 'p', POD_NAMESPACE: 'ns' };
    const c = parseConfig({ nodeName: 'file-node' }, env);
    expect([c.nodeName, c.nodeIP, c.kubeconfig, c.pod]).toEqual(['file-node', '10.1.2.3', '/k', { name: 'p', namespace: 'ns' }]);
  });

  it('takes the first non-empty entry of a KUBECONFIG list (kubectl a:b), as fleet does', () => {
    expect(parseConfig({}, { KUBECONFIG: '/x/kc.yaml:/y' }).kubeconfig).toBe('/x/kc.yaml');
    expect(parseConfig({}, { KUBECONFIG: '::/a: /b' }).kubeconfig).toBe('/a');
    expect(parseConfig({}, { KUBECONFIG: ' : ' }).kubeconfig).toBeUndefined();
    expect(parseConfig({ kubeconfig: '/file' }, { KUBECONFIG: '/x:/y' }).kubeconfig).toBe('/file');
  });

  it('refuses a resync period beyond what a Node timer holds (it would fire every millisecond)', () => {
    expect(problems({ trust: { resyncSeconds: 3_000_000 } })).toEqual(['trust.resyncSeconds: must be <= 2073600']);
    expect(problems({ trust: { resyncSeconds: 2_073_600 } })).toEqual([]);
    expect(2_073_600 * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
  });

  it('names unknown keys with their path', () => {
    expect(problems({ trust: { sourceDirs: '/x' }, bogus: 1 }).sort()).toEqual(['unknown key bogus', 'unknown key trust.sourceDirs']);
  });

  it('names keys with wrong types', () => {
    const p = problems({ trust: { resyncSeconds: 'often' }, hosts: { services: [{ name: 1 }] } });
    expect(p.some((x) => x.startsWith('trust.resyncSeconds:'))).toBe(true);
    expect(p.some((x) => x.startsWith('hosts.services.0.'))).toBe(true);
  });

  it('refuses tls disabled or auth none unless listening on loopback', () => {
    expect(problems({ server: { tls: { mode: 'disabled' } } })[0]).toMatch(/server.tls.mode/);
    expect(problems({ server: { auth: { mode: 'none' } } })[0]).toMatch(/server.auth.mode/);
    expect(problems({ server: { listen: '127.0.0.1:9443', tls: { mode: 'disabled' }, auth: { mode: 'none' } } })).toEqual([]);
    expect(problems({ server: { listen: '', tls: { mode: 'disabled' }, auth: { mode: 'none' } } })).toEqual([]);
  });

  it('refuses a backup dir inside a source', () => {
    expect(problems({ backup: { dir: '/cpaas/minio/backup' } })[0]).toMatch(/backup.dir.*inside backup.sources.minio/);
  });

  it('refuses a backup dir or state dir inside a source by real path: a symlink into the source counts', async () => {
    const root = await realpath(await mkdtemp(path.join(tmpdir(), 'node-ca-config-')));
    try {
      const src = path.join(root, 'minio');
      await mkdir(path.join(src, 'inside'), { recursive: true });
      await symlink(path.join(src, 'inside'), path.join(root, 'backup'));
      await symlink(src, path.join(root, 'state'));
      const backup = { sources: { minio: src }, dir: path.join(root, 'backup'), stateDir: path.join(root, 'state', 'not-yet', 'created') };
      expect(problems({ backup })).toEqual([
        `backup.dir: ${backup.dir} (${path.join(src, 'inside')}) is inside backup.sources.minio (${src}); the archive would contain itself`,
        `backup.stateDir: ${backup.stateDir} (${path.join(src, 'not-yet', 'created')}) is inside backup.sources.minio (${src}); the job records would change during every backup of it`,
      ]);
      expect(problems({ backup: { sources: { minio: src }, dir: path.join(root, 'out'), stateDir: path.join(src, '.state') } })[0]).toMatch(/^backup\.stateDir: .* is inside backup\.sources\.minio/);
      expect(problems({ backup: { sources: { minio: src }, dir: path.join(root, 'out'), stateDir: path.join(root, 'st') } })).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a node IP that is not an address (it names the archive), from the file or NODE_IP', () => {
    expect(problems({ nodeIP: '10.0.0.1/24' })).toEqual(['nodeIP: "10.0.0.1/24" is not an IPv4 or IPv6 address']);
    expect(problems({}, { NODE_IP: '10.0.0.1/24' })).toEqual(['nodeIP: NODE_IP "10.0.0.1/24" is not an IPv4 or IPv6 address']);
    expect(problems({ nodeIP: 'node-1' })).toHaveLength(1);
    expect(problems({ nodeIP: '192.168.3.10' }, { NODE_IP: 'ignored/because the file wins' })).toEqual([]);
    expect(problems({}, { NODE_IP: 'fd00::10' })).toEqual([]);
  });

  it('says what is wrong in words an operator can act on', () => {
    expect(problems({ server: { auth: { mode: 'oidc' } } })).toEqual(['server.auth.mode: unknown mode "oidc"']);
    expect(problems({ server: { tls: { mode: 'files', certFile: '/c' } } })).toEqual(['server.tls.keyFile: is required']);
    expect(problems({ pull: { runtime: 'docker' } })).toEqual(['pull.runtime: must be one of "auto", "nerdctl", "crictl", "ctr"']);
    expect(problems({ backup: { sources: { MinIO: '/m' } } })).toEqual(['backup.sources.MinIO: name must match ^[a-z0-9][a-z0-9-]{0,62}$']);
    expect(problems({ hosts: { services: [{ namespace: 'a' }] } })).toEqual(['hosts.services.0.name: is required']);
    expect(problems({ backup: { minFreePercent: 100 } })).toEqual(['backup.minFreePercent: must be <= 99']);
    expect(problems([1])).toEqual(['(top level): must be object']);
  });

  it('leaves the document it was given as it was, and fills the auth audiences default', () => {
    const raw = { server: { auth: { mode: 'kubernetes' } } };
    const c = parseConfig(raw, {});
    expect(raw).toEqual({ server: { auth: { mode: 'kubernetes' } } });
    expect(c.server.auth).toEqual({ mode: 'kubernetes', audiences: [] });
    expect(parseConfig(null, {}).server.listen).toBe('0.0.0.0:9443');
  });

  it('requires certFile and keyFile for tls files mode', () => {
    expect(problems({ server: { tls: { mode: 'files' } } }).join()).toMatch(/server.tls.certFile/);
  });
});
