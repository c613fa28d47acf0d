import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  agentNamespace,
  checkTrustFiles,
  type ObservedCertsDir,
} from '../../../src/doctor/files.js';
import { applyActions, readCertsDir } from '../../../src/trust/apply.js';
import { planDesiredState } from '../../../src/trust/desired.js';
import { planCertsDir, type CertsDirFlavor } from '../../../src/trust/plan.js';
import { makeCa } from '../../support/pki.js';

const caA = makeCa('CA A', { keyIndex: 0 });
const caB = makeCa('CA B', { keyIndex: 1 });
const HOST = 'registry.test.local:5000';
const desired = planDesiredState(
  new Map([
    ['registry.test.local..5000', caA.cert],
    ['Bad_Key', caA.cert],
    ['broken.test.local', 'not pem'],
  ]),
);

describe('files vs source check, real certs dirs', () => {
  let root: string;
  let containerd: string;
  let docker: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'node-ca-doctor-files-'));
    containerd = path.join(root, 'containerd');
    docker = path.join(root, 'docker');
    for (const [dir, flavor] of [
      [containerd, 'containerd'],
      [docker, 'docker'],
    ] as const)
      await writeLikeTheAgent(dir, flavor);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  /** The agent's own plan and apply, so the passing case is what the agent really writes. */
  async function writeLikeTheAgent(dir: string, flavor: CertsDirFlavor) {
    const actions = planCertsDir({
      flavor,
      desired: desired.registries,
      keep: new Set(),
      observed: await readCertsDir(dir),
      now: new Date(),
    });
    await applyActions(dir, actions);
  }
  async function check(
    dirs: { dir: string; flavor: CertsDirFlavor }[] = [
      { dir: containerd, flavor: 'containerd' },
      { dir: docker, flavor: 'docker' },
    ],
  ) {
    const observed: ObservedCertsDir[] = await Promise.all(
      dirs.map(async (d) => ({
        ...d,
        observed: d.dir.endsWith('missing') ? undefined : await readCertsDir(d.dir),
      })),
    );
    return checkTrustFiles({
      registries: desired.registries,
      invalid: desired.invalid,
      dirs: observed,
      sourceHint: 'kubectl -n ns edit configmap cm',
      node: 'node-1',
      agentNamespace: 'registry-ops',
    });
  }
  const rows = async () => (await check()).map((r) => `${r.id}:${r.status}`);

  it('passes what the agent wrote, and names the invalid keys', async () => {
    expect(await rows()).toEqual([
      'trust.invalid-key:fail',
      'trust.invalid-key:fail',
      'trust.files:ok',
      'trust.marker:ok',
      'docker.certs-dir:ok',
      'trust.marker:ok',
    ]);
    const invalid = (await check()).filter((r) => r.id === 'trust.invalid-key');
    expect(invalid.map((r) => r.subject)).toEqual(['Bad_Key', 'broken.test.local']);
    expect(invalid[1]?.message).toContain('last good files of broken.test.local are kept');
  });

  it('fails when ca.crt was replaced by hand: the bytes and the marker disagree', async () => {
    await writeFile(path.join(containerd, HOST, 'ca.crt'), caB.cert);
    const results = await check();
    expect(results.find((r) => r.id === 'trust.files')).toMatchObject({
      status: 'fail',
      message: 'ca.crt differs from the source bundle',
    });
    expect(
      results.find((r) => r.id === 'trust.marker' && r.subject.startsWith(containerd))?.message,
    ).toMatch(/disagrees with ca.crt/);
  });

  it("fails on a marker whose sha256 is not the file's", async () => {
    await writeFile(
      path.join(containerd, HOST, '.node-ca'),
      JSON.stringify({ key: 'registry.test.local..5000', sha256: '0'.repeat(64), time: '' }),
    );
    const marker = (await check()).find(
      (r) => r.id === 'trust.marker' && r.subject.startsWith(containerd),
    );
    expect(marker).toMatchObject({
      status: 'fail',
      subject: path.join(containerd, HOST, '.node-ca'),
    });
  });

  it('fails on an edited hosts.toml', async () => {
    await writeFile(path.join(containerd, HOST, 'hosts.toml'), 'server = "https://elsewhere"\n');
    expect((await check()).find((r) => r.id === 'trust.files')?.message).toBe(
      'hosts.toml differs from what node-ca renders',
    );
  });

  it('reports an administrator directory shadowing a source host, and its skip_verify', async () => {
    await rm(path.join(containerd, HOST), { recursive: true });
    await mkdir(path.join(containerd, HOST));
    await writeFile(
      path.join(containerd, HOST, 'hosts.toml'),
      `server = "https://${HOST}"\n[host."https://${HOST}"]\n  skip_verify = true\n`,
    );
    const results = await check();
    expect(results.find((r) => r.id === 'trust.conflict')).toMatchObject({
      status: 'fail',
      subject: path.join(containerd, HOST),
    });
    expect(results.find((r) => r.id === 'trust.skip-verify')).toMatchObject({
      status: 'warn',
      subject: path.join(containerd, HOST, 'hosts.toml'),
    });
    expect(results.some((r) => r.id === 'trust.files')).toBe(false);
  });

  it('fails when a host directory is missing', async () => {
    await rm(path.join(containerd, HOST), { recursive: true });
    expect((await check()).find((r) => r.id === 'trust.files')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('missing') as string,
      remedy: expect.stringContaining('spec.nodeName=node-1') as string,
    });
  });

  it('restarts the agent in its own namespace, not a hardcoded one', async () => {
    await rm(path.join(containerd, HOST), { recursive: true });
    const remedy = (await check()).find((r) => r.id === 'trust.files')?.remedy;
    expect(remedy).toContain('kubectl -n registry-ops delete pod');
    expect(remedy).not.toContain('image-registry-system');
  });

  it('the agent namespace is POD_NAMESPACE, else the CA ConfigMap namespace', () => {
    const trust = { configMap: { namespace: 'cm-ns' } };
    expect(agentNamespace({ pod: { namespace: 'pod-ns' }, trust })).toBe('pod-ns');
    expect(agentNamespace({ trust })).toBe('cm-ns');
  });

  it('docker certs dir: fails when absent, and when its ca.crt is out of sync', async () => {
    const absent = await check([{ dir: path.join(root, 'docker-missing'), flavor: 'docker' }]);
    expect(
      absent
        .filter((r) => r.id.startsWith('docker') || r.id.startsWith('trust.f'))
        .map((r) => `${r.id}:${r.status}`),
    ).toEqual(['docker.certs-dir:fail']);
    await writeFile(path.join(docker, HOST, 'ca.crt'), caB.cert);
    expect((await check()).find((r) => r.id === 'docker.certs-dir')?.status).toBe('fail');
  });
});
