import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { demoConfig, parseDemoPort, renderContainerdConfig, sandboxLayout } from '../../../src/demo/sandbox.js';
import { checkContainerdConfig, type ContainerdVersion } from '../../../src/doctor/containerd-config.js';

describe('parseDemoPort', () => {
  it.each([
    ['0', 0],
    ['1', 1],
    ['8080', 8080],
    ['65535', 65535],
  ])('accepts %s', (text, port) => {
    expect(parseDemoPort(text)).toBe(port);
  });

  it.each(['', 'abc', '65536', '99999', '-1', '1.5', '1e3', '0x50', ' 80', '80 ', '+80', '123456'])(
    'refuses %j',
    (text) => {
      expect(parseDemoPort(text)).toBeUndefined();
    },
  );
});

/** Every string in the loaded configuration that is an absolute path. */
function absolutePaths(value: unknown): string[] {
  if (typeof value === 'string') return value.startsWith('/') ? [value] : [];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap(absolutePaths);
}

describe('the demo configuration', () => {
  const root = '/tmp/node-ca-demo-unit';
  const config = parseConfig(demoConfig(sandboxLayout(root), 0), { NODE_NAME: 'demo-node' }, 'demo');

  it('names no path outside the sandbox, defaults included', () => {
    const paths = absolutePaths(config);
    // The keys that default to /etc, /run, /var and /cpaas paths on a node.
    expect(paths).toEqual(
      expect.arrayContaining([
        config.trust.containerdConfig,
        config.pull.address,
        config.pull.hostsDir,
        config.server.socket,
        config.backup.stateDir,
      ]),
    );
    for (const p of paths) expect(p.startsWith(`${root}/`), p).toBe(true);
  });

  it('points doctor and pull checks at the certs dir the demo writes', () => {
    expect(config.trust.containerdConfig).toBe(`${root}/etc/containerd/config.toml`);
    expect(config.pull.hostsDir).toBe(config.trust.containerdCertsDir);
    expect(config.hosts.file).toBe('');
  });
});

describe('the demo containerd config', () => {
  const certsDir = '/tmp/node-ca-demo-unit/etc/containerd/certs.d';
  const binary = (major: number, minor: number): ContainerdVersion => ({ major, minor, from: 'binary' });

  it.each([
    ['no containerd binary', undefined],
    ['containerd 1.6', binary(1, 6)],
    ['containerd 1.7', binary(1, 7)],
    ['containerd 2.0', binary(2, 0)],
    ['containerd 2.1', binary(2, 1)],
  ])('passes doctor’s containerd.config check with %s on the machine', (_name, version) => {
    const file = '/tmp/node-ca-demo-unit/etc/containerd/config.toml';
    const rows = checkContainerdConfig({ file, text: renderContainerdConfig(certsDir), certsDir, version });
    expect(rows).toEqual([expect.objectContaining({ id: 'containerd.config', status: 'ok', subject: file })]);
  });

  it('keeps a sandbox path with quotes and backslashes intact', () => {
    const odd = '/tmp/a "b" \\c/etc/containerd/certs.d';
    const doc = parseToml(renderContainerdConfig(odd)) as {
      plugins: Record<string, { registry: { config_path: string } }>;
    };
    expect(doc.plugins['io.containerd.grpc.v1.cri']?.registry.config_path).toBe(odd);
  });
});
