import { describe, expect, it } from 'vitest';
import {
  buildInspectCommand,
  buildPullCommand,
  buildVersionCommand,
  parseStoredDigest,
  type RuntimeSettings,
} from '../../src/pull/runtimes.js';

const host: RuntimeSettings = { hostExec: [], address: '/run/containerd/containerd.sock', namespace: 'k8s.io', hostsDir: '/etc/containerd/certs.d' };
const pod: RuntimeSettings = { ...host, hostExec: ['nsenter', '--target', '1', '--mount', '--'] };
const ref = 'registry.local:5000/acp/core:v1';
const digest = `sha256:${'b'.repeat(64)}`;

describe('runtime argument arrays', () => {
  it('nerdctl: address, namespace and hosts dir are global flags', () => {
    expect(buildPullCommand('nerdctl', host, ref)).toEqual([
      'nerdctl', '--address', '/run/containerd/containerd.sock', '--namespace', 'k8s.io', '--hosts-dir', '/etc/containerd/certs.d', 'pull', '--quiet', ref,
    ]);
    expect(buildInspectCommand('nerdctl', host, ref).slice(-3)).toEqual(['image', 'inspect', ref]);
  });

  it('crictl: only the CRI endpoint (containerd applies its own config_path, as for the kubelet)', () => {
    expect(buildPullCommand('crictl', host, ref)).toEqual(['crictl', '--runtime-endpoint', 'unix:///run/containerd/containerd.sock', 'pull', ref]);
    expect(buildInspectCommand('crictl', host, ref)).toEqual([
      'crictl', '--runtime-endpoint', 'unix:///run/containerd/containerd.sock', 'inspecti', '--output', 'json', ref,
    ]);
  });

  it('ctr: the hosts dir is given to the pull, or ctr reads none', () => {
    expect(buildPullCommand('ctr', host, ref)).toEqual([
      'ctr', '--address', '/run/containerd/containerd.sock', '--namespace', 'k8s.io', 'images', 'pull', '--hosts-dir', '/etc/containerd/certs.d', ref,
    ]);
    expect(buildInspectCommand('ctr', host, ref).slice(-3)).toEqual(['images', 'ls', `name==${ref}`]);
  });

  it('every command is prefixed by hostExec', () => {
    for (const rt of ['nerdctl', 'crictl', 'ctr'] as const) {
      expect(buildPullCommand(rt, pod, ref).slice(0, 6)).toEqual(['nsenter', '--target', '1', '--mount', '--', rt]);
      expect(buildVersionCommand(rt, pod)).toEqual(['nsenter', '--target', '1', '--mount', '--', rt, '--version']);
    }
  });

  it('the reference is one element, whatever it holds', () => {
    const odd = 'registry.local/a:b';
    expect(buildPullCommand('ctr', pod, odd).at(-1)).toBe(odd);
  });
});

describe('parseStoredDigest', () => {
  it('ctr images ls: the DIGEST column of the row named exactly like the reference (observed, ctr 1.6.20)', () => {
    const out = [
      'REF                                  TYPE                                       DIGEST                                                                  SIZE    PLATFORMS   LABELS ',
      `${ref}-other application/vnd.oci.image.manifest.v1+json sha256:${'c'.repeat(64)} 680.0 B linux/amd64 -`,
      `${ref} application/vnd.oci.image.manifest.v1+json ${digest} 680.0 B linux/amd64 -`,
    ].join('\n');
    expect(parseStoredDigest('ctr', ref, out)).toBe(digest);
    expect(parseStoredDigest('ctr', ref, out.split('\n')[0]!)).toBeUndefined();
  });

  it('nerdctl image inspect: RepoDigests of the repository', () => {
    const out = JSON.stringify([{ Id: 'sha256:x', RepoTags: [ref], RepoDigests: [`other.local/x@sha256:${'d'.repeat(64)}`, `registry.local:5000/acp/core@${digest}`] }]);
    expect(parseStoredDigest('nerdctl', ref, out)).toBe(digest);
    expect(parseStoredDigest('nerdctl', ref, '[]')).toBeUndefined();
  });

  it('crictl inspecti -o json: status.repoDigests', () => {
    const out = JSON.stringify({ status: { id: 'sha256:cfg', repoTags: [ref], repoDigests: [`registry.local:5000/acp/core@${digest}`] }, info: {} });
    expect(parseStoredDigest('crictl', ref, out)).toBe(digest);
    expect(parseStoredDigest('crictl', ref, 'not json')).toBeUndefined();
  });
});
