import { describe, expect, it } from 'vitest';
import {
  checkContainerdConfig,
  parseContainerdVersion,
  type ContainerdVersion,
} from '../../../src/doctor/containerd-config.js';

const certsDir = '/etc/containerd/certs.d';
const v2 = (registry: string) =>
  `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n${registry}\n`;
const v3 = (registry: string) =>
  `version = 3\n[plugins."io.containerd.cri.v1.images".registry]\n${registry}\n`;
const run = (text: string | undefined, version?: ContainerdVersion) =>
  checkContainerdConfig({ file: '/etc/containerd/config.toml', text, certsDir, version });
const statuses = (text: string | undefined, version?: ContainerdVersion) =>
  run(text, version).map((r) => r.status);
const bin = (major: number, minor: number): ContainerdVersion => ({ major, minor, from: 'binary' });

describe('containerd config check', () => {
  it.each([
    ['v2 layout covering the certs dir', v2(`config_path = "${certsDir}"`)],
    ['v3 layout covering the certs dir', v3(`config_path = "${certsDir}"`)],
    ['v2 with a trailing slash', v2(`config_path = "${certsDir}/"`)],
    ['v1 (no version) layout', `[plugins.cri.registry]\nconfig_path = "${certsDir}"\n`],
  ])('passes: %s', (_name, text) => {
    const [r] = run(text);
    expect(r?.status).toBe('ok');
    expect(r?.message).toContain('restart');
  });

  it.each([
    ['missing file', undefined, 'not found'],
    ['not TOML', 'version = = 2', 'not valid TOML'],
    ['empty config_path (v2)', v2('config_path = ""'), 'containerd ignores'],
    [
      'config_path unset (v2)',
      v2('  [plugins."io.containerd.grpc.v1.cri".registry.auths]'),
      'not set',
    ],
    ['another directory (v3)', v3('config_path = "/etc/other/certs.d"'), 'does not cover'],
  ])('fails: %s', (_name, text, words) => {
    const results = run(text);
    expect(results.map((r) => r.status)).toEqual(['fail']);
    expect(results[0]?.message).toContain(words);
    expect(results[0]?.remedy).toMatch(/restart containerd/);
  });

  const mirrors = `[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\nendpoint = ["https://m.example"]`;
  const tls = `[plugins."io.containerd.grpc.v1.cri".registry.configs."r.example".tls]\ninsecure_skip_verify = true`;
  const auth = `[plugins."io.containerd.grpc.v1.cri".registry.configs."r.example".auth]\nusername = "u"\npassword = "p"`;
  it('fails on mirrors with config_path: containerd refuses to load the CRI plugin', () => {
    const results = run(v2(`config_path = "${certsDir}"\n${mirrors}`), bin(1, 7));
    expect(results.map((r) => r.status)).toEqual(['fail', 'ok']);
    expect(results[0]?.message).toContain('refuses to load its CRI plugin');
    expect(results[0]?.message).toContain('no image service');
    expect(results[0]?.remedy).toContain('hosts.toml');
  });
  it('configs.<host>.tls with config_path: refused by containerd 1.x, deprecated on 2.x', () => {
    const text = v2(`config_path = "${certsDir}"\n${tls}`);
    expect(statuses(text, bin(1, 7))).toEqual(['fail', 'ok']);
    expect(run(text, bin(1, 7))[0]?.message).toContain('`configs.tls` cannot be set');
    expect(statuses(text, bin(2, 0))).toEqual(['warn', 'ok']);
  });
  it('configs.<host>.auth with config_path is only a deprecation warning, with a remedy that exists', () => {
    const results = run(v2(`config_path = "${certsDir}"\n${auth}`), bin(1, 7));
    expect(results.map((r) => r.status)).toEqual(['warn', 'ok']);
    expect(results[0]?.message).toContain('deprecated');
    expect(results[0]?.remedy).toContain('imagePullSecrets');
    expect(results[0]?.remedy).not.toMatch(/move those settings into hosts.toml/);
  });

  const list = `config_path = "${certsDir}:/etc/docker/certs.d"`;
  it('warns on a colon list on containerd >= 2.1 (from the binary)', () => {
    expect(statuses(v3(list), bin(2, 1))).toEqual(['warn']);
    expect(run(v3(list), bin(2, 2))[0]?.message).toContain(
      'containerd 2.2 (from containerd --version)',
    );
  });
  it('accepts a colon list on containerd 1.6/1.7/2.0', () => {
    expect(statuses(v2(list), bin(1, 6))).toEqual(['ok']);
    expect(statuses(v3(list), bin(2, 0))).toEqual(['ok']);
  });
  it('without a binary, a version 3 config is taken as containerd 2.x and warned', () => {
    expect(statuses(v3(list))).toEqual(['warn']);
    expect(statuses(v2(list))).toEqual(['ok']);
  });
  it('v3 with config_path unset uses containerd 2.x default list', () => {
    const results = run('version = 3\n', bin(2, 1));
    expect(results[0]?.status).toBe('warn');
    expect(results[0]?.message).toContain('default');
  });
  it('a list that does not include the certs dir fails', () => {
    expect(statuses(v2('config_path = "/a:/b"'), bin(1, 7))).toEqual(['fail']);
  });

  it.each([
    ['containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3', 1, 6],
    [
      'containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376',
      2,
      1,
    ],
    ['containerd containerd.io 1.7.27 05044ec0a9a75232cad458027ca83437aae3f4da', 1, 7],
  ])('parses `containerd --version`: %s', (out, major, minor) => {
    expect(parseContainerdVersion(out)).toEqual({ major, minor, from: 'binary' });
  });
  it('does not parse garbage as a version', () => {
    expect(parseContainerdVersion('containerd: command not found')).toBeUndefined();
  });

  describe('imports (drop-ins), merged as containerd merges them', () => {
    const main = '/etc/containerd/config.toml';
    const dropIn = '/etc/containerd/conf.d/10-registry.toml';
    const withImports = (
      text: string,
      imports: { path: string; text: string | undefined }[],
      version?: ContainerdVersion,
    ) => checkContainerdConfig({ file: main, text, certsDir, version, imports });
    const root = 'version = 2\nimports = ["conf.d/*.toml"]\n';
    it('takes config_path from a drop-in (no false FAIL)', () => {
      const [r] = withImports(
        root,
        [{ path: dropIn, text: v2(`config_path = "${certsDir}"`) }],
        bin(1, 7),
      );
      expect(r).toMatchObject({ status: 'ok', subject: dropIn });
      expect(r?.message).toContain(`set in drop-in ${dropIn}`);
    });
    it('a drop-in overriding config_path wins (no false OK), and the remedy names the drop-in', () => {
      const results = withImports(
        v2(`config_path = "${certsDir}"`).replace('version = 2\n', root),
        [{ path: dropIn, text: v2('config_path = "/etc/containerd/other.d"') }],
        bin(2, 0),
      );
      expect(results.map((r) => r.status)).toEqual(['fail']);
      expect(results[0]?.message).toContain('does not cover');
      expect(results[0]?.remedy).toContain(`of ${dropIn}`);
    });
    const runtimeOnly =
      '[plugins."io.containerd.grpc.v1.cri".containerd]\nsnapshotter = "overlayfs"\n';
    const mainWithPath = `${root}[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "${certsDir}"\n`;
    it('containerd 1.x: a drop-in CRI table replaces the main one whole, config_path included', () => {
      const results = withImports(
        mainWithPath,
        [{ path: dropIn, text: `version = 2\n${runtimeOnly}` }],
        bin(1, 7),
      );
      expect(results.map((r) => r.status)).toEqual(['fail']);
      expect(results[0]?.message).toContain('replaces the whole CRI plugin table');
    });
    it('containerd 2.x: plugin tables are deep-merged, so the main config_path stays', () => {
      const results = withImports(
        mainWithPath,
        [{ path: dropIn, text: `version = 2\n${runtimeOnly}` }],
        bin(2, 0),
      );
      expect(results.map((r) => r.status)).toEqual(['ok']);
    });
    it('a missing literal import or a broken drop-in stops containerd', () => {
      expect(
        withImports(root, [{ path: dropIn, text: undefined }], bin(2, 0))[0]?.message,
      ).toContain('containerd fails to start');
      expect(
        withImports(root, [{ path: dropIn, text: 'x = = 1' }], bin(2, 0))[0]?.message,
      ).toContain('not valid TOML');
    });
  });

  describe("containerd 2.x's built-in config_path default", () => {
    it('applies to a missing config file', () => {
      const [r] = run(undefined, bin(2, 0));
      expect(r?.status).toBe('ok');
      expect(r?.message).toContain('containerd 2.x default');
      expect(statuses(undefined, bin(2, 1))).toEqual(['warn']);
    });
    it('applies to a v1/v2 config without config_path (migrated at start)', () => {
      expect(statuses('version = 2\n', bin(2, 0))).toEqual(['ok']);
      expect(statuses('[plugins.cri]\nsandbox_image = "p"\n', bin(2, 0))).toEqual(['ok']);
      expect(statuses('version = 2\n', bin(1, 7))).toEqual(['fail']);
    });
    it('does not apply when mirrors are set', () => {
      const results = run(
        v2(
          `[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\nendpoint = ["https://m"]`,
        ),
        bin(2, 2),
      );
      expect(results.map((r) => r.status)).toEqual(['fail']);
      expect(results[0]?.message).toContain('does not apply its default');
    });
    it('without a binary answer, a config using the 2.x-only images table is read as containerd 2.x', () => {
      const text = `version = 2\n[plugins."io.containerd.cri.v1.images".registry]\nconfig_path = "${certsDir}"\n`;
      expect(statuses(text)).toEqual(['ok']);
      expect(statuses(text, bin(1, 7))).toEqual(['fail']);
    });
    it('a v1 config with full plugin URIs works on 2.x (v1Migrate keeps dotted names)', () => {
      const text = `[plugins."io.containerd.grpc.v1.cri".registry]\nconfig_path = "${certsDir}"\n`;
      expect(statuses(text, bin(2, 0))).toEqual(['ok']);
      expect(statuses(text, bin(1, 7))).toEqual(['fail']);
    });
  });
});
