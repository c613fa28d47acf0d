import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { createMetrics } from '../../src/lib/metrics.js';
import { createPullChecker, type PullCheckerDeps } from '../../src/pull/checker.js';
import { parseImageReference, type ImageReference } from '../../src/pull/reference.js';
import { createCommandRunner } from '../../src/pull/run-command.js';
import { startAgentProcess, loopbackServer } from '../support/agent.js';
import { isAlive, killPid, readPid } from '../support/pids.js';
import { waitFor } from '../support/poll.js';

/*
 * nerdctl and crictl cannot be installed here: small sh scripts stand in for
 * them, found through PATH, answering with the runtimes' real messages
 * (sources quoted in test/unit/pull-classify.test.ts). The tag picks the
 * behaviour: `hang` sleeps (timeouts, shutdown), `x509` fails, else success.
 */
const digest = `sha256:${'e'.repeat(64)}`;
const registry = 'registry.fixture.local:5000';

const nerdctlX509 =
  'time="2026-11-23T09:00:00Z" level=fatal msg="failed to resolve reference \\"REF\\": failed to do request: Head \\"https://registry.fixture.local:5000/v2/acp/core/manifests/x509\\": x509: certificate signed by unknown authority"';
const crictlX509 =
  'time="2026-11-23T09:00:00Z" level=fatal msg="pulling image: rpc error: code = Unknown desc = failed to pull and unpack image \\"REF\\": failed to resolve reference \\"REF\\": failed to do request: Head \\"https://registry.fixture.local:5000/v2/acp/core/manifests/x509\\": x509: certificate signed by unknown authority"';

function script(name: string, dir: string, opts: { skip: number; inspect: string; fail: string }): string {
  return `#!/bin/sh
PATH=/usr/bin:/bin
echo "${name} $*" >> "${dir}/calls.log"
if [ "$1" = "--version" ]; then echo "${name} version 0.0.0-fixture"; exit 0; fi
shift ${opts.skip}
cmd="$1"
for ref in "$@"; do :; done
case "$cmd" in
  image|inspecti) ${opts.inspect}; exit 0;;
esac
case "$ref" in
  *:hang) echo $$ > "${dir}/hang.pid.tmp" && mv "${dir}/hang.pid.tmp" "${dir}/hang.pid"; exec sleep 600;;
  *:x509) echo '${opts.fail}' | sed "s|REF|$ref|g" >&2; exit 1;;
esac
exit 0
`;
}

/** Runtimes that never answer `--version` (a wedged binary, or a hostExec that blocks), pid in `version-<name>.pid`. */
async function writeHangingVersionFixtures(dir: string): Promise<string> {
  const bin = path.join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  for (const name of ['nerdctl', 'crictl', 'ctr']) {
    const pidFile = path.join(dir, `version-${name}.pid`);
    await writeFile(
      path.join(bin, name),
      `#!/bin/sh
PATH=/usr/bin:/bin
echo "${name} $*" >> "${dir}/calls.log"
if [ "$1" = "--version" ]; then echo $$ > "${pidFile}.tmp" && mv "${pidFile}.tmp" "${pidFile}"; exec sleep 600; fi
exit 1
`,
    );
    await chmod(path.join(bin, name), 0o755);
  }
  return bin;
}

async function writeFixtures(dir: string, which: readonly ('nerdctl' | 'crictl')[]): Promise<string> {
  const bin = path.join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const fixtures = {
    // nerdctl --address A --namespace N --hosts-dir D <cmd> ...
    nerdctl: script('nerdctl', dir, {
      skip: 6,
      inspect: `printf '[{"Id":"sha256:cfg","RepoTags":["%s"],"RepoDigests":["%s@${digest}"]}]\\n' "$ref" "\${ref%:*}"`,
      fail: nerdctlX509,
    }),
    // crictl --runtime-endpoint unix://A <cmd> ...
    crictl: script('crictl', dir, {
      skip: 2,
      inspect: `printf '{"status":{"repoTags":["%s"],"repoDigests":["%s@${digest}"]},"info":{}}\\n' "$ref" "\${ref%:*}"`,
      fail: crictlX509,
    }),
  };
  for (const name of which) {
    await writeFile(path.join(bin, name), fixtures[name]);
    await chmod(path.join(bin, name), 0o755);
  }
  return bin;
}

function ref(s: string): ImageReference {
  const r = parseImageReference(s);
  if (!r.ok) throw new Error(r.reason);
  return r.ref;
}

describe('runtime adapters with fixture binaries', () => {
  let dir: string;
  let shutdown: AbortController;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'node-ca-pull-fixtures-'));
    shutdown = new AbortController();
  });
  afterEach(async () => {
    shutdown.abort();
    for (const file of ['hang.pid', 'version-nerdctl.pid', 'version-crictl.pid', 'version-ctr.pid']) {
      const pid = await readPid(path.join(dir, file));
      if (pid !== undefined) killPid(pid);
    }
    await rm(dir, { recursive: true, force: true });
  });

  function checker(binDir: string, extra: Partial<PullCheckerDeps> = {}) {
    return createPullChecker({
      settings: { hostExec: [], address: '/run/fixture/containerd.sock', namespace: 'k8s.io', hostsDir: '/etc/fixture/certs.d' },
      runtime: 'auto',
      run: createCommandRunner({ path: binDir }),
      certsDir: undefined,
      metrics: createMetrics(),
      logger: createLogger({ level: 'silent' }),
      shutdown: shutdown.signal,
      ...extra,
    });
  }

  /** The agent as a process, with `bin` as its PATH (where the runtimes are found) and the fixture registry allowed. */
  async function startFixtureAgent(bin: string) {
    const source = path.join(dir, 'source');
    await mkdir(source);
    return startAgentProcess({
      env: { PATH: bin },
      config: {
        trust: { sourceDir: source, containerdCertsDir: path.join(dir, 'certs.d'), dockerCertsDir: '' },
        hosts: { file: '' },
        server: loopbackServer,
        pull: { allowedRegistries: [registry] },
      },
    });
  }

  const calls = async () => (await readFile(path.join(dir, 'calls.log'), 'utf8')).trim().split('\n');

  it('auto picks nerdctl first and reads the digest from RepoDigests', async () => {
    const bin = await writeFixtures(dir, ['nerdctl', 'crictl']);
    const report = await checker(bin).check([ref(`${registry}/acp/core:v1`)]);
    expect(report.results[0]).toMatchObject({ ok: true, runtime: 'nerdctl', digest, present: true });
    expect(await calls()).toEqual([
      'nerdctl --version',
      `nerdctl --address /run/fixture/containerd.sock --namespace k8s.io --hosts-dir /etc/fixture/certs.d pull --quiet ${registry}/acp/core:v1`,
      `nerdctl --address /run/fixture/containerd.sock --namespace k8s.io --hosts-dir /etc/fixture/certs.d image inspect ${registry}/acp/core:v1`,
    ]);
  });

  it('auto falls back to crictl when nerdctl is absent, and classifies its x509 failure', async () => {
    const bin = await writeFixtures(dir, ['crictl']);
    const report = await checker(bin).check([ref(`${registry}/acp/core:v1`), ref(`${registry}/acp/core:x509`)]);
    expect(report.ok).toBe(false);
    expect(report.results[0]).toMatchObject({ ok: true, runtime: 'crictl', digest });
    expect(report.results[1]).toMatchObject({ ok: false, runtime: 'crictl', error: { code: 'X509_UNKNOWN_AUTHORITY' } });
    expect(report.results[1]!.error!.message).toContain(`failed to pull and unpack image \\"${registry}/acp/core:x509\\"`);
  });

  it('RUNTIME_MISSING when no runtime answers, or the one asked for is absent', async () => {
    const bin = await writeFixtures(dir, ['crictl']);
    const none = await checker(path.join(dir, 'empty')).check([ref(`${registry}/a:v1`)]);
    expect(none.results[0]).toMatchObject({ ok: false, runtime: null, error: { code: 'RUNTIME_MISSING' } });
    const asked = await checker(bin).check([ref(`${registry}/a:v1`)], { runtime: 'nerdctl' });
    expect(asked.results[0]).toMatchObject({ ok: false, error: { code: 'RUNTIME_MISSING' } });
  });

  it('runs every command behind the hostExec prefix', async () => {
    const bin = await writeFixtures(dir, ['nerdctl']);
    const prefix = path.join(bin, 'hostexec');
    await writeFile(prefix, `#!/bin/sh\nPATH=${bin}:/usr/bin:/bin\necho "hostexec $*" >> "${dir}/calls.log"\n[ "$1" = "--" ] && shift\nexec "$@"\n`);
    await chmod(prefix, 0o755);
    const c = checker(bin, { settings: { hostExec: [prefix, '--'], address: '/a.sock', namespace: 'k8s.io', hostsDir: '/h' } });
    const report = await c.check([ref(`${registry}/acp/core:v1`)]);
    expect(report.results[0]).toMatchObject({ ok: true, runtime: 'nerdctl' });
    const lines = await calls();
    expect(lines.filter((l) => l.startsWith('hostexec -- nerdctl'))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('nerdctl'))).toHaveLength(3);
  });

  it('works behind a real nsenter prefix; a runtime nsenter cannot find is RUNTIME_MISSING (exit 127)', async () => {
    const bin = await writeFixtures(dir, ['nerdctl']);
    // Our own PID stands in for the host's PID 1 (entering PID 1 needs hostPID in a pod).
    const hostExec = ['nsenter', '--target', String(process.pid), '--mount', '--'];
    const settings = { hostExec, address: '/a.sock', namespace: 'k8s.io', hostsDir: '/h' };
    const ok = await checker(bin, { settings, run: createCommandRunner({ path: `${bin}:/usr/bin:/bin` }) }).check([ref(`${registry}/acp/core:v1`)]);
    expect(ok.results[0]).toMatchObject({ ok: true, runtime: 'nerdctl', digest });
    const run = createCommandRunner({ path: '/usr/bin:/bin' });
    const gone = await checker(bin, { settings, run }).check([ref(`${registry}/acp/core:v1`)], { runtime: 'nerdctl' });
    expect(gone.results[0]).toMatchObject({ ok: false, error: { code: 'RUNTIME_MISSING' } });
    const pulled = await run(['nsenter', '--target', String(process.pid), '--mount', '--', 'nerdctl', 'pull', 'x'], { timeoutMs: 10_000 });
    expect(pulled.exitCode).toBe(127);
  });

  it('keeps a bounded tail of a chatty runtime\'s output without killing it', async () => {
    const run = createCommandRunner({ path: '/usr/bin:/bin' });
    const r = await run(['sh', '-c', 'yes progress | head -c 2999997; echo "final line" >&2; exit 3'], { timeoutMs: 20_000, outputCap: 4096 });
    expect(r).toMatchObject({ exitCode: 3, timedOut: false, spawnError: undefined });
    expect(r.stdout.length).toBeLessThanOrEqual(4096);
    expect(r.stdout.endsWith('progress\n')).toBe(true);
    expect(r.stderr).toBe('final line\n');
  });

  it('kills a hanging runtime at the per-image timeout: TIMEOUT', async () => {
    const bin = await writeFixtures(dir, ['nerdctl']);
    const report = await checker(bin).check([ref(`${registry}/acp/core:hang`)], { timeoutMs: 1500 });
    expect(report.results[0]).toMatchObject({ ok: false, error: { code: 'TIMEOUT' } });
    const pid = await waitFor(() => readPid(path.join(dir, 'hang.pid')), { timeoutMs: 10_000, message: 'fixture pid' });
    await waitFor(() => !isAlive(pid), { timeoutMs: 10_000, message: 'hanging fixture killed' });
  });

  it('a request cannot raise the timeout above the default', async () => {
    const bin = await writeFixtures(dir, ['nerdctl']);
    const report = await checker(bin, { defaultTimeoutMs: 1000 }).check([ref(`${registry}/acp/core:hang`)], { timeoutMs: 60_000 });
    expect(report.results[0]?.error?.code).toBe('TIMEOUT');
    expect(report.results[0]?.error?.message).toContain('1000 ms');
  });

  it('runtime detection that hangs ends within the request timeout: RUNTIME_MISSING saying so', async () => {
    const bin = await writeHangingVersionFixtures(dir);
    const agent = await startFixtureAgent(bin);
    try {
      const timeoutMs = 2000;
      const started = performance.now();
      const response = await fetch(`${agent.url}/v1/pull-checks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ images: [`${registry}/acp/core:v1`], timeoutSeconds: timeoutMs / 1000 }),
      });
      const body = (await response.json()) as { ok: boolean; results: { runtime: string | null; error?: { code: string; message: string } }[] };
      const elapsed = performance.now() - started;
      expect(response.status).toBe(200);
      // The first probe takes the whole timeout; each probe used to get 10 s, so three took 30 s.
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 50);
      expect(elapsed).toBeLessThan(timeoutMs + 2500);
      expect(body.ok).toBe(false);
      expect(body.results[0]).toMatchObject({ runtime: null, error: { code: 'RUNTIME_MISSING' } });
      expect(body.results[0]?.error?.message).toMatch(
        /^no runtime answered --version in time: nerdctl did not answer --version through pull\.hostExec within \d+ ms; crictl, ctr not tried: the 2000 ms timeout was used up$/,
      );
      expect(await calls()).toEqual(['nerdctl --version']);
      const pid = await waitFor(() => readPid(path.join(dir, 'version-nerdctl.pid')), { timeoutMs: 5000, message: 'probe pid' });
      await waitFor(() => !isAlive(pid), { timeoutMs: 5000, message: 'hanging --version probe killed' });
    } finally {
      await agent.stop('SIGKILL');
    }
  });

  it('a runtime asked for that hangs on --version: the same, naming it', async () => {
    const bin = await writeHangingVersionFixtures(dir);
    const timeoutMs = 1500;
    const started = performance.now();
    const report = await checker(bin).check([ref(`${registry}/acp/core:v1`)], { runtime: 'crictl', timeoutMs });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(timeoutMs + 2500);
    expect(report.results[0]).toMatchObject({ ok: false, runtime: null, error: { code: 'RUNTIME_MISSING' } });
    expect(report.results[0]?.error?.message).toMatch(/^crictl did not answer --version through pull\.hostExec within \d+ ms$/);
  });

  it('agent shutdown (SIGTERM) kills a running pull and the agent exits 0', async () => {
    const bin = await writeFixtures(dir, ['nerdctl']);
    const agent = await startFixtureAgent(bin);
    try {
      const answer = fetch(`${agent.url}/v1/pull-checks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ images: [`${registry}/acp/core:hang`] }),
      }).then(async (r) => (await r.json()) as { results: { error?: { code: string } }[] });
      const pid = await waitFor(() => readPid(path.join(dir, 'hang.pid')), {
        timeoutMs: 15_000,
        message: 'fixture started',
      });
      void agent.stop('SIGTERM');
      // Deadline well under a pod's 30 s grace period (a busy keep-alive socket once held it 72 s).
      const code = await waitFor(() => agent.child.exitCode ?? undefined, { timeoutMs: 20_000, message: 'agent exit after SIGTERM' });
      expect(code).toBe(0);
      expect(isAlive(pid)).toBe(false);
      const body = await answer.catch(() => undefined);
      if (body !== undefined) expect(body.results[0]?.error?.code).toBe('OTHER');
    } finally {
      await agent.stop('SIGKILL');
    }
  });
});
