import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/lib/logger.js';
import { createMetrics } from '../../../src/lib/metrics.js';
import { createPullChecker } from '../../../src/pull/checker.js';
import { parseImageReference, type ImageReference } from '../../../src/pull/reference.js';
import type { CommandResult, CommandRunner, RunOptions } from '../../../src/pull/run-command.js';
import type { Argv } from '../../../src/pull/runtimes.js';
import { issueServerCert, makeCa } from '../../support/pki.js';
import { certsDirFor, startHungListener } from './hung-registry.js';

/*
 * The checker with a scripted runner standing in for the runtime (argument
 * arrays are covered by pull-runtimes.test.ts, real processes by the
 * integration tests) and real loopback sockets for the registry probe.
 */

const done: CommandResult = { exitCode: 0, stdout: '', stderr: '', timedOut: false, canceled: false, spawnError: undefined };
const digest = `sha256:${'d'.repeat(64)}`;
const x509 = 'ctr: failed to resolve reference: failed to do request: Head "https://h/v2/acp/core/manifests/v1": tls: failed to verify certificate: x509: certificate signed by unknown authority';

/** Resolves after `ms`, or as ctr killed at its timeout does when `ms` is past the run's timeout. */
function after(ms: number, options: RunOptions, result: CommandResult): Promise<CommandResult> {
  const killedAt = options.timeoutMs;
  return new Promise((resolve) => {
    setTimeout(() => {
      resolve(ms < killedAt ? result : { ...done, exitCode: undefined, timedOut: true });
    }, Math.min(ms, killedAt));
  });
}

type Step = (options: RunOptions) => Promise<CommandResult>;

/** A runner where only `installed` answers --version, and each pull takes the next scripted step. */
function scriptedRunner(installed: string, pulls: Step[]) {
  const calls: string[] = [];
  const run: CommandRunner = (argv: Argv, options: RunOptions) => {
    const line = argv.join(' ');
    calls.push(line);
    if (argv[1] === '--version') return Promise.resolve(argv[0] === installed ? done : { ...done, exitCode: 127 });
    if (line.includes(' pull ')) return (pulls.shift() ?? (() => Promise.resolve(done)))(options);
    return Promise.resolve({ ...done, stdout: `REF TYPE DIGEST\n${argv.at(-1)?.slice('name=='.length) ?? ''} t ${digest}\n` });
  };
  return { run, calls };
}

function checker(run: CommandRunner, certsDir?: string) {
  return createPullChecker({
    settings: { hostExec: [], address: '/run/containerd/containerd.sock', namespace: 'k8s.io', hostsDir: '/etc/containerd/certs.d' },
    runtime: 'auto',
    run,
    certsDir,
    metrics: createMetrics(),
    logger: createLogger({ level: 'silent' }),
    shutdown: new AbortController().signal,
  });
}

function ref(s: string): ImageReference {
  const r = parseImageReference(s);
  if (!r.ok) throw new Error(r.reason);
  return r.ref;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('RUNTIME_MISSING names the runtime the request asked for', () => {
  it.each(['nerdctl', 'crictl'] as const)('%s asked for, only ctr installed', async (asked) => {
    const { run } = scriptedRunner('ctr', []);
    const report = await checker(run).check([ref('registry.local:5000/acp/core:v1')], { runtime: asked });
    expect(report.results[0]).toMatchObject({
      ok: false,
      runtime: null,
      error: { code: 'RUNTIME_MISSING', message: `${asked} is not installed or does not answer --version through pull.hostExec` },
    });
  });

  it('auto with nothing installed names all three', async () => {
    const { run } = scriptedRunner('none', []);
    const report = await checker(run).check([ref('registry.local:5000/acp/core:v1')], { runtime: 'auto' });
    expect(report.results[0]?.error?.message).toBe('none of nerdctl, crictl, ctr answers --version through pull.hostExec');
  });
});

describe('runtime detection shares the request timeout', () => {
  /** A runner whose `--version` probes answer as `probes` says (hang: until killed), recording each probe's timeout. */
  function probingRunner(probes: Partial<Record<string, 'hang' | 'absent'>>) {
    const versionTimeouts: [string, number][] = [];
    const run: CommandRunner = (argv, options) => {
      if (argv[1] !== '--version') return Promise.resolve(done);
      versionTimeouts.push([argv[0], options.timeoutMs]);
      const behaviour = probes[argv[0]];
      if (behaviour === 'hang') return after(60_000, options, done);
      return Promise.resolve(behaviour === 'absent' ? { ...done, exitCode: 127 } : done);
    };
    return { run, versionTimeouts };
  }

  it('each probe gets at most 10 s of a long timeout', async () => {
    const { run, versionTimeouts } = probingRunner({ nerdctl: 'absent' });
    const report = await checker(run).check([ref('registry.local:5000/acp/core:v1')], { timeoutMs: 60_000 });
    expect(report.results[0]).toMatchObject({ runtime: 'crictl' });
    expect(versionTimeouts).toEqual([['nerdctl', 10_000], ['crictl', 10_000]]);
  });

  it('a probe gets only what is left, and the candidates after the deadline are not probed', async () => {
    const timeoutMs = 1500;
    const { run, versionTimeouts } = probingRunner({ nerdctl: 'hang', crictl: 'hang', ctr: 'hang' });
    const started = performance.now();
    const report = await checker(run).check([ref('registry.local:5000/acp/core:v1')], { timeoutMs });
    const elapsed = performance.now() - started;
    expect(versionTimeouts.map(([name]) => name)).toEqual(['nerdctl']);
    const given = versionTimeouts[0]![1];
    expect(given).toBeLessThanOrEqual(timeoutMs);
    expect(given).toBeGreaterThan(timeoutMs - 100);
    expect(elapsed).toBeLessThan(timeoutMs + 600);
    expect(report.results[0]).toMatchObject({
      ok: false,
      runtime: null,
      error: {
        code: 'RUNTIME_MISSING',
        message: `no runtime answered --version in time: nerdctl did not answer --version through pull.hostExec within ${given} ms; crictl, ctr not tried: the ${timeoutMs} ms timeout was used up`,
      },
    });
  });

  it('a runtime asked for that hangs is reported as late, not as missing', async () => {
    const { run } = probingRunner({ crictl: 'hang' });
    const report = await checker(run).check([ref('registry.local:5000/acp/core:v1')], { runtime: 'crictl', timeoutMs: 300 });
    expect(report.results[0]?.error?.code).toBe('RUNTIME_MISSING');
    expect(report.results[0]?.error?.message).toMatch(/^crictl did not answer --version through pull\.hostExec within \d+ ms$/);
  });
});

describe('one deadline per image', () => {
  const timeoutMs = 1500;
  // Timers on a busy 2-core machine run late; the bugs these catch took 2× the timeout.
  const margin = 600;

  it('a hung registry: ctr killed at the timeout and the probe given up at the same deadline', async () => {
    const hung = await startHungListener();
    const certsDir = await certsDirFor(hung.host, makeCa('checker test CA').cert);
    cleanups.push(hung.close, () => rm(certsDir, { recursive: true, force: true }));
    const { run } = scriptedRunner('ctr', [(o) => after(60_000, o, done)]);
    const started = performance.now();
    const report = await checker(run, certsDir).check([ref(`${hung.host}/acp/core:v1`)], { timeoutMs });
    const elapsed = performance.now() - started;
    expect(report.results[0]).toMatchObject({ ok: false, runtime: 'ctr', error: { code: 'TIMEOUT' }, registryProbe: { error: { code: 'TIMEOUT' } } });
    expect(report.results[0]!.durationMs).toBeLessThan(timeoutMs + margin);
    expect(elapsed).toBeLessThan(timeoutMs + margin);
  });

  it('the second pull after a runtime/probe disagreement gets only what is left of the deadline', async () => {
    const ca = makeCa('checker test CA');
    const server = await startRegistry(ca);
    const certsDir = await certsDirFor(server.host, ca.cert);
    cleanups.push(server.close, () => rm(certsDir, { recursive: true, force: true }));
    // The first pull reports x509 half-way, the second one hangs until it is killed.
    const longer = 2500;
    const x509Pull: Step = (o) => after(longer / 2, o, { ...done, exitCode: 1, stderr: x509 });
    const { run, calls } = scriptedRunner('ctr', [x509Pull, (o) => after(60_000, o, done)]);
    const report = await checker(run, certsDir).check([ref(`${server.host}/acp/core:v1`)], { timeoutMs: longer });
    expect(calls.filter((c) => c.includes(' pull '))).toHaveLength(2);
    expect(report.results[0]).toMatchObject({ ok: false, error: { code: 'TIMEOUT' }, registryProbe: { ok: true, tlsVerified: true } });
    expect(report.results[0]!.durationMs).toBeLessThan(longer + margin);
  });

  it('no second pull when less than a second is left', async () => {
    const ca = makeCa('checker test CA');
    const server = await startRegistry(ca);
    const certsDir = await certsDirFor(server.host, ca.cert);
    cleanups.push(server.close, () => rm(certsDir, { recursive: true, force: true }));
    const { run, calls } = scriptedRunner('ctr', [(o) => after(timeoutMs - 700, o, { ...done, exitCode: 1, stderr: x509 })]);
    const report = await checker(run, certsDir).check([ref(`${server.host}/acp/core:v1`)], { timeoutMs });
    expect(calls.filter((c) => c.includes(' pull '))).toHaveLength(1);
    expect(report.results[0]).toMatchObject({ ok: false, error: { code: 'X509_UNKNOWN_AUTHORITY' } });
  });
});

/** A TLS registry on loopback that has every manifest. */
async function startRegistry(ca: ReturnType<typeof makeCa>): Promise<{ host: string; close: () => Promise<void> }> {
  const leaf = issueServerCert(ca, ['127.0.0.1']);
  const server: Server = createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => {
    res.writeHead(200, { 'docker-content-digest': digest }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        resolve();
      });
    });
  return { host: `127.0.0.1:${address.port}`, close };
}
