import { describe, expect, it } from 'vitest';
import { classifyPullFailure, trimRuntimeMessage } from '../../src/pull/classify.js';

/*
 * Real runtime output. "observed": printed by Debian's ctr 1.6.20 against
 * docker-registry 2.8 in this repository's e2e harness (test/support). Others
 * are quoted from upstream issues, with the address; logrus prints
 * `level=fatal msg=...` instead of `FATA[...]` when stderr is not a terminal.
 */
const ctrNotTrusted = [
  'time="2026-11-23T09:23:49Z" level=info msg="trying next host" error="failed to do request: Head \\"https://registry.test.local:35107/v2/e/hello/manifests/v1\\": x509: certificate signed by unknown authority" host="registry.test.local:35107"',
  'ctr: failed to resolve reference "registry.test.local:35107/e/hello:v1": failed to do request: Head "https://registry.test.local:35107/v2/e/hello/manifests/v1": x509: certificate signed by unknown authority',
].join('\n');

const cases: readonly (readonly [string, string, string])[] = [
  ['observed ctr 1.6.20, CA replaced', ctrNotTrusted, 'X509_UNKNOWN_AUTHORITY'],
  [
    // The trusted [host] answered 404, then the `server` fallback (no ca) failed TLS: resolver.go reports the first error.
    'observed ctr 1.6.20, missing tag with hosts.toml server fallback',
    [
      'time="2026-11-23T09:23:49Z" level=info msg="trying next host - response was http.StatusNotFound" host="registry.test.local:35107"',
      'time="2026-11-23T09:23:49Z" level=info msg="trying next host" error="failed to do request: Head \\"https://registry.test.local:35107/v2/e/missing/manifests/v1\\": x509: certificate signed by unknown authority" host="registry.test.local:35107"',
      'ctr: failed to resolve reference "registry.test.local:35107/e/missing:v1": failed to do request: Head "https://registry.test.local:35107/v2/e/missing/manifests/v1": x509: certificate signed by unknown authority',
    ].join('\n'),
    'NOT_FOUND',
  ],
  [
    'observed ctr 1.6.20, missing tag with a top-level ca in hosts.toml',
    'ctr: failed to resolve reference "registry.test.local:40525/e/missing:v1": registry.test.local:40525/e/missing:v1: not found',
    'NOT_FOUND',
  ],
  [
    'observed ctr 1.6.20, htpasswd registry',
    [
      'time="2026-11-23T09:23:49Z" level=info msg="trying next host" error="failed to do request: Head \\"https://auth.test.local:42347/v2/e/hello/manifests/v1\\": x509: certificate signed by unknown authority" host="auth.test.local:42347"',
      'ctr: failed to resolve reference "auth.test.local:42347/e/hello:v1": pulling from host auth.test.local:42347 failed with status code [manifests v1]: 401 Unauthorized',
    ].join('\n'),
    'UNAUTHORIZED',
  ],
  [
    'observed ctr 1.6.20, certificate for another name',
    'ctr: failed to resolve reference "wrong.test.local:35491/e/hello:v1": failed to do request: Head "https://wrong.test.local:35491/v2/e/hello/manifests/v1": x509: certificate is valid for other.test.local, not wrong.test.local',
    'X509_HOSTNAME_MISMATCH',
  ],
  [
    'observed ctr 1.6.20, nothing listening',
    'ctr: failed to resolve reference "refused.test.local:43443/e/hello:v1": failed to do request: Head "https://refused.test.local:43443/v2/e/hello/manifests/v1": dial tcp 127.0.0.1:43443: connect: connection refused',
    'CONNECTION_REFUSED',
  ],
  [
    'observed ctr 1.6.20, unknown name',
    'ctr: failed to resolve reference "nosuch.test.local:5000/e/hello:v1": failed to do request: Head "https://nosuch.test.local:5000/v2/e/hello/manifests/v1": dial tcp: lookup nosuch.test.local: no such host',
    'DNS',
  ],
  [
    'observed ctr 1.6.20, socket that never answers',
    'time="2026-11-23T09:23:59Z" level=info msg="trying next host" error="failed to do request: Head \\"https://silent.test.local:37167/v2/e/hello/manifests/v1\\": net/http: TLS handshake timeout" host="silent.test.local:37167"',
    'TIMEOUT',
  ],
  [
    'crictl, https://github.com/cnoe-io/idpbuilder/issues/520 (Go 1.20+ wording)',
    'Failed to pull image "registry.k8s.io/coredns/coredns:v1.11.1": failed to pull and unpack image "registry.k8s.io/coredns/coredns:v1.11.1": failed to resolve reference "registry.k8s.io/coredns/coredns:v1.11.1": failed to do request: Head "https://registry.k8s.io/v2/coredns/coredns/manifests/v1.11.1": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    'X509_UNKNOWN_AUTHORITY',
  ],
  [
    'crictl, https://github.com/kubernetes-sigs/cri-tools/issues/1137',
    'E0417 01:47:55.256339   59141 remote_image.go:171] "PullImage from image service failed" err="rpc error: code = NotFound desc = failed to pull and unpack image \\"docker.io/victoriametrics/victoria-metrics:v1.76.1\\": failed to unpack image on snapshotter overlayfs: unexpected media type text/html for sha256:04a732b9876d77c18601b92f91bb05d4591a1356dbbfd732c13f4db1362c796d: not found" image="victoriametrics/victoria-metrics:v1.76.1"',
    'NOT_FOUND',
  ],
  [
    'crictl, https://github.com/labring/sealos/issues/1708',
    'FATA[0002] pulling image: rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/nginx:alpine": failed to resolve reference "docker.io/library/nginx:alpine": failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized',
    'UNAUTHORIZED',
  ],
  [
    'crictl, https://github.com/dragonflyoss/dragonfly/issues/3582 (a 500 is none of the specific codes)',
    'FATA[0000] pulling image: failed to pull and unpack image "harbor.nebula.com/base/df/nginx:0911": failed to resolve reference "harbor.nebula.com/base/df/nginx:0911": pulling from host 127.0.0.1:65001 failed with status code [manifests 0911]: 500 Internal Server Error',
    'OTHER',
  ],
  [
    'nerdctl, https://github.com/containerd/nerdctl/issues/278',
    'FATA[0000] failed to resolve reference "reg.xxx.cn/quay.io/coreos/etcd:v3.4.14": failed to do request: Head "https://reg.xxx.cn/v2/quay.io/coreos/etcd/manifests/v3.4.14": x509: certificate signed by unknown authority',
    'X509_UNKNOWN_AUTHORITY',
  ],
  [
    'nerdctl, https://github.com/rancher-sandbox/rancher-desktop/issues/1509 (resolver timeout is DNS)',
    'INFO[0010] trying next host                              error="failed to do request: Head \\"https://registry-1.docker.io/v2/library/postgres/manifests/13.4\\": dial tcp: lookup registry-1.docker.io on 10.0.0.2:53: read udp 10.0.0.5:41234->10.0.0.2:53: i/o timeout" host=registry-1.docker.io',
    'DNS',
  ],
  [
    'nerdctl, https://github.com/containerd/nerdctl/issues/2143',
    'FATA[0006] failed to copy: httpReadSeeker: failed open: failed to do request: Get "https://production.cloudflare.docker.com/x": dial tcp 104.18.124.25:443: connect: connection refused',
    'CONNECTION_REFUSED',
  ],
  [
    'nerdctl, https://github.com/containerd/containerd/issues/11103',
    'time="2024-12-05T03:05:06Z" level=fatal msg="pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials"',
    'UNAUTHORIZED',
  ],
  ['exec failure through nsenter', 'nsenter: failed to execute nerdctl: No such file or directory', 'OTHER'],
  [
    'ctr 1.6.20 (Debian) with no containerd on pull.address, run here; also https://github.com/containerd/containerd/issues/7975',
    'ctr: failed to dial "/run/containerd/containerd.sock": context deadline exceeded: connection error: desc = "transport: error while dialing: dial unix:///run/containerd/containerd.sock: timeout"',
    'RUNTIME_MISSING',
  ],
  [
    'crictl, socket missing, https://github.com/kubernetes-sigs/cri-tools/issues/1089',
    'FATA[0000] listing containers: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing dial unix /var/run/dockershim.sock: connect: no such file or directory"',
    'RUNTIME_MISSING',
  ],
  [
    'crictl, daemon not answering, https://github.com/kubernetes-sigs/cri-tools/issues/845',
    "FATA[0002] connect: connect endpoint 'unix:///var/run/dockershim.sock', make sure you are running as root and the endpoint has been started: context deadline exceeded",
    'RUNTIME_MISSING',
  ],
  [
    'crictl through kubeadm, socket missing, https://github.com/kubernetes/kubernetes/issues/110383',
    'time="2022-06-04T15:40:42Z" level=fatal msg="unable to determine runtime API version: rpc error: code = Unavailable desc = connection error: desc = \\"transport: Error while dialing dial unix /var/run/containerd/containerd.sock: connect: no such file or directory\\""',
    'RUNTIME_MISSING',
  ],
];

describe('classifyPullFailure', () => {
  it.each(cases)('%s', (_from, output, code) => {
    expect(classifyPullFailure(output)).toBe(code);
  });
});

describe('trimRuntimeMessage', () => {
  it('keeps the final error line, not the progress and info lines', () => {
    expect(trimRuntimeMessage(`${ctrNotTrusted}\n`)).toMatch(/^ctr: failed to resolve reference .*x509: certificate signed by unknown authority$/);
  });

  it('trims to 500 characters', () => {
    const msg = trimRuntimeMessage(`ctr: ${'x'.repeat(2000)}`);
    expect(msg.length).toBe(500);
    expect(msg.endsWith('…')).toBe(true);
  });
});
