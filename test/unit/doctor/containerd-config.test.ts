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

  it('fails when mirrors or configs are set together with config_path', () => {
    const text = v2(
      `config_path = "${certsDir}"\n[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]\nendpoint = ["https://m.example"]\n[plugins."io.containerd.grpc.v1.cri".registry.configs."r.example".tls]\ninsecure_skip_verify = true`,
    );
    const results = run(text);
    expect(results.map((r) => r.status)).toEqual(['fail', 'ok']);
    expect(results[0]?.message).toContain('mirrors and configs');
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
});
