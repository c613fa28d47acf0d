import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess, loopbackServer } from '../support/agent.js';
import { pushImage, startContainerd, type TestContainerd } from '../support/containerd.js';
import { freePort, startSilentServer } from '../support/daemon.js';
import { createProjectedConfigMap } from '../support/kubelet.js';
import { buildOciArchive, type OciImage } from '../support/oci.js';
import { makeCa } from '../support/pki.js';
import { waitFor } from '../support/poll.js';
import { registryPassword, registryUser, startRegistry, type TestRegistry } from '../support/registry.js';
import { createPrivateResolver, type PrivateResolver } from '../support/resolver.js';

interface Result {
  image: string;
  ok: boolean;
  runtime: string | null;
  digest: string | null;
  present: boolean;
  durationMs: number;
  error?: { code: string; message: string };
  registryProbe: { ok: boolean; tlsVerified: boolean; digest?: string; credentialsNeeded: boolean; error?: { code: string } } | null;
}

const names = { main: 'registry.test.local', auth: 'auth.test.local', wrong: 'wrong.test.local', silent: 'silent.test.local', refused: 'refused.test.local' };

describe('pull checks end to end: agent → ctr → containerd → docker-registry over TLS', () => {
  let dir: string | undefined;
  let resolver: PrivateResolver | undefined;
  const registries: TestRegistry[] = [];
  let containerd: TestContainerd | undefined;
  let silent: { port: number; stop(): Promise<void> } | undefined;
  let agent: AgentProcess | undefined;
  let image: OciImage;
  let main: TestRegistry;
  let auth: TestRegistry;
  let wrong: TestRegistry;
  let refusedHost: string;
  let silentHost: string;
  const unknownHost = 'unknown.test.local:5000';
  const ca = makeCa('node-ca pull-check CA');
  let source: ReturnType<typeof createProjectedConfigMap>;
  let certsDir: string;
  let keys: Record<string, string>;

  beforeAll(async () => {
    const work = await mkdtemp(path.join(tmpdir(), 'node-ca-pull-e2e-'));
    dir = work;
    // Refused: a loopback address where nothing listens (not 127.0.0.1, where the agent,
    // containerd and the registries take ports while the test runs).
    const { refused, ...onLoopback } = names;
    resolver = await createPrivateResolver(dir, Object.values(onLoopback), { [refused]: quietLoopbackAddress() });
    main = await startRegistry({ dir: path.join(dir, 'main'), name: names.main, ca });
    auth = await startRegistry({ dir: path.join(dir, 'auth'), name: names.auth, ca, htpasswd: true });
    wrong = await startRegistry({ dir: path.join(dir, 'wrong'), name: names.wrong, ca, certNames: ['another.test.local'] });
    registries.push(main, auth, wrong);
    silent = await startSilentServer();
    silentHost = `${names.silent}:${silent.port}`;
    refusedHost = `${names.refused}:${await freePort()}`;
    containerd = await startContainerd({ dir: path.join(dir, 'containerd') });
    await writeFile(path.join(dir, 'ca.crt'), ca.cert);
    image = await buildOciArchive({ archive: path.join(dir, 'image.tar'), ref: `${main.host}/acp/core:v1` });
    const push = { archive: image.archive, ref: image.ref, caFile: path.join(dir, 'ca.crt'), prefix: resolver.prefix };
    await pushImage(containerd, { ...push, target: image.ref });
    await pushImage(containerd, { ...push, target: `${auth.host}/acp/core:v1`, user: `${registryUser}:${registryPassword}` });
    await containerd.ctr(['images', 'rm', image.ref, `${auth.host}/acp/core:v1`]);

    source = createProjectedConfigMap(path.join(dir, 'source'));
    certsDir = path.join(dir, 'certs.d');
    const hosts = [main.host, auth.host, wrong.host, silentHost, refusedHost, unknownHost];
    keys = Object.fromEntries(hosts.map((h) => [h.replace(':', '..'), ca.cert]));
    await source.write(keys);
    agent = await startAgentProcess({
      prefix: resolver.prefix,
      config: {
        trust: { sourceDir: source.dir, containerdCertsDir: certsDir, dockerCertsDir: '' },
        hosts: { file: '' },
        server: loopbackServer,
        pull: { runtime: 'auto', address: containerd.socket, namespace: containerd.namespace, hostsDir: certsDir },
      },
    });
    await waitFor(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, { timeoutMs: 15_000, message: 'agent ready' });
  });

  afterAll(async () => {
    await agent?.stop();
    await containerd?.stop();
    for (const r of registries) await r.stop();
    await silent?.stop();
    await resolver?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function pullCheck(body: unknown): Promise<{ status: number; json: { ok: boolean; results: Result[]; error?: { code: string } } }> {
    const res = await fetch(`${agent!.url}/v1/pull-checks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as { ok: boolean; results: Result[]; error?: { code: string } } };
  }

  it('succeeds through the agent\'s certs.d with auto-detected ctr, and reports the pushed digest', async () => {
    const started = performance.now();
    const { status, json } = await pullCheck({ images: [image.ref] });
    const roundTripMs = Math.round(performance.now() - started);
    expect(status).toBe(200);
    const [r] = json.results;
    expect(r, JSON.stringify(json)).toMatchObject({ image: image.ref, ok: true, runtime: 'ctr', digest: image.manifestDigest, present: true });
    expect(r!.error).toBeUndefined();
    expect(r!.registryProbe).toMatchObject({ ok: true, tlsVerified: true, digest: image.manifestDigest });
    expect(json.ok).toBe(true);
    const listed = await containerd!.ctr(['images', 'ls', '-q']);
    expect(listed.stdout.split('\n')).toContain(image.ref);
    console.log(`one successful pull check: durationMs ${r!.durationMs}, HTTP round trip ${roundTripMs} ms`);
  });

  it('classifies NOT_FOUND, UNAUTHORIZED, X509_HOSTNAME_MISMATCH, DNS and CONNECTION_REFUSED in one request', async () => {
    const images = {
      NOT_FOUND: `${main.host}/acp/core:no-such-tag`,
      UNAUTHORIZED: `${auth.host}/acp/core:v1`,
      X509_HOSTNAME_MISMATCH: `${wrong.host}/acp/core:v1`,
      DNS: `${unknownHost}/acp/core:v1`,
      CONNECTION_REFUSED: `${refusedHost}/acp/core:v1`,
    };
    const { status, json } = await pullCheck({ images: Object.values(images) });
    expect(status).toBe(200);
    expect(json.ok).toBe(false);
    for (const [code, ref] of Object.entries(images)) {
      const r = json.results.find((x) => x.image === ref);
      expect(r, `${ref}: ${JSON.stringify(r)}`).toMatchObject({ ok: false, runtime: 'ctr', digest: null, present: false, error: { code } });
      expect(r!.error!.message.length).toBeGreaterThan(0);
      expect(r!.registryProbe?.error?.code ?? 'none', `probe of ${ref}: ${JSON.stringify(r!.registryProbe)}`).toBe(code);
    }
    const unauthorized = json.results.find((x) => x.image === images.UNAUTHORIZED)!;
    expect(unauthorized.error!.message).toContain('401 Unauthorized');
    expect(unauthorized.registryProbe, JSON.stringify(unauthorized)).toMatchObject({ ok: true, tlsVerified: true, credentialsNeeded: true });
  });

  it('reports TIMEOUT for a registry that accepts and never answers, and kills the runtime', async () => {
    const ref = `${silentHost}/acp/core:v1`;
    const { json } = await pullCheck({ images: [ref], timeoutSeconds: 3 });
    expect(json.results[0]).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
    expect(json.results[0]!.registryProbe?.error?.code).toBe('TIMEOUT');
    const left = await execa('pgrep', ['-f', ref], { reject: false });
    expect(left.stdout).toBe('');
  });

  it('answers 400 for foreign registries and bad references, with no process started', async () => {
    const foreign = await pullCheck({ images: ['docker.io/library/alpine:3'] });
    expect(foreign).toMatchObject({ status: 400, json: { error: { code: 'REGISTRY_NOT_ALLOWED' } } });
    const shell = await pullCheck({ images: [`${main.host}/acp/core:v1;touch /tmp/pwned`] });
    expect(shell).toMatchObject({ status: 400, json: { error: { code: 'INVALID_IMAGE_REFERENCE' } } });
    const metrics = await (await fetch(`${agent!.url}/metrics`)).text();
    expect(metrics).toMatch(/node_ca_pull_checks_total\{result="ok"\} 1/);
    expect(metrics).toMatch(/node_ca_pull_checks_total\{result="TIMEOUT"\} 1/);
  });

  it('reports X509_UNKNOWN_AUTHORITY once the CA in the source is replaced', async () => {
    const other = makeCa('some other CA', { keyIndex: 2 });
    await source.write({ ...keys, [main.host.replace(':', '..')]: other.cert });
    const caFile = path.join(certsDir, main.host, 'ca.crt');
    await waitFor(async () => (await readFile(caFile, 'utf8')).trim() === other.cert.trim(), { timeoutMs: 15_000, message: 'new ca.crt' });
    const { json } = await pullCheck({ images: [image.ref] });
    expect(json.results[0]).toMatchObject({ ok: false, runtime: 'ctr', error: { code: 'X509_UNKNOWN_AUTHORITY' } });
    expect(json.results[0]!.error!.message).toContain('x509: certificate signed by unknown authority');
    expect(json.results[0]!.registryProbe).toMatchObject({ ok: false, tlsVerified: false, error: { code: 'X509_UNKNOWN_AUTHORITY' } });
  });
});

/** 127.a.b.c other than 127.0.0.1 (and the DNS double's 127.2+.x.y): no test process binds there. */
function quietLoopbackAddress(): string {
  return `127.1.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
}
