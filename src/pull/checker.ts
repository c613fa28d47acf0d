import { mapBounded } from '../lib/bounded.js';
import type { Logger } from '../lib/logger.js';
import type { Metrics } from '../lib/metrics.js';
import { classifyPullFailure, trimRuntimeMessage, type PullErrorCode } from './classify.js';
import type { ImageReference } from './reference.js';
import { probeRegistry, type RegistryProbeResult } from './registry-probe.js';
import type { CommandRunner } from './run-command.js';
import { describeMissingRuntime, detectRuntime, type RuntimeDetection } from './detect.js';
import { buildInspectCommand, buildPullCommand, parseStoredDigest, type RuntimeName, type RuntimeSettings } from './runtimes.js';
import { pullCheckImageTimeoutMs, pullChecksAtOnce } from './limits.js';

/** One image's answer (SPEC "Pull check result", plus store presence and the registry probe). */
export interface PullCheckResult {
  readonly image: string;
  readonly ok: boolean;
  readonly runtime: RuntimeName | null;
  readonly digest: string | null;
  /** The image is in the runtime's store after the pull (the manual `nerdctl images | grep`). */
  readonly present: boolean;
  readonly durationMs: number;
  readonly error?: { code: PullErrorCode; message: string };
  /** HEAD of the manifest trusting only node-ca's ca.crt; null when no certs dir is written. */
  readonly registryProbe: RegistryProbeResult | null;
}

export interface PullCheckReport {
  readonly ok: boolean;
  readonly results: readonly PullCheckResult[];
}

export interface PullCheckerDeps {
  readonly settings: RuntimeSettings;
  /** `pull.runtime`. */
  readonly runtime: 'auto' | RuntimeName;
  readonly run: CommandRunner;
  /** Where node-ca writes ca.crt per host, for the registry probe; undefined: no probe. */
  readonly certsDir: string | undefined;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Aborted on agent shutdown: running pulls are killed. */
  readonly shutdown: AbortSignal;
  /** Per-image timeout, default 120 s. */
  readonly defaultTimeoutMs?: number;
  /** Images checked at once, default 3. */
  readonly concurrency?: number;
}

export interface PullCheckOptions {
  readonly runtime?: 'auto' | RuntimeName;
  /** May only lower the default. */
  readonly timeoutMs?: number;
}

export function createPullChecker(deps: PullCheckerDeps) {
  const defaultTimeoutMs = deps.defaultTimeoutMs ?? pullCheckImageTimeoutMs;

  async function check(refs: readonly ImageReference[], options: PullCheckOptions = {}): Promise<PullCheckReport> {
    const timeoutMs = Math.min(options.timeoutMs ?? defaultTimeoutMs, defaultTimeoutMs);
    const wanted = options.runtime ?? deps.runtime;
    // Detection gets one per-image timeout for all its probes, before the images' own deadlines start.
    const detection = await detectRuntime(wanted, deps.settings, deps.run, { timeoutMs, signal: deps.shutdown });
    const results = await mapBounded(refs, deps.concurrency ?? pullChecksAtOnce, (ref) => checkOne(ref, { wanted, detection, timeoutMs }));
    return { ok: results.every((r) => r.ok), results };
  }

  async function checkOne(ref: ImageReference, plan: Plan): Promise<PullCheckResult> {
    const started = performance.now();
    // One deadline for everything done for this image: the pull, the listing, the probe and
    // the second pull below, so an image takes its timeout (plus the listing's 1 s floor).
    const budget: Budget = { timeoutMs: plan.timeoutMs, deadline: started + plan.timeoutMs };
    const { runtime } = plan.detection;
    const [firstOutcome, registryProbe] = await Promise.all([
      runtime === undefined ? missing(plan.wanted, plan.detection) : pullWith(runtime, ref, budget),
      probe(ref, budget),
    ]);
    // The runtime says "unknown authority" but a handshake with the very ca.crt node-ca wrote
    // for that host verified: the two disagree, so the runtime is asked once more, within what
    // is left of the deadline. (ctr once reported a missing tag as the x509 error of the
    // hosts.toml `server` fallback, without its usual "response was http.StatusNotFound" line,
    // in one run of many.)
    let outcome = firstOutcome;
    if (runtime !== undefined && disagree(outcome, registryProbe) && remaining(budget) >= minRetryMs) {
      deps.logger.info({ image: ref.normalized, runtime, message: outcome.error?.message }, 'runtime and registry probe disagree on trust; pulling once more');
      outcome = await pullWith(runtime, ref, budget);
    }
    const result: PullCheckResult = {
      image: ref.normalized,
      runtime: runtime ?? null,
      registryProbe,
      durationMs: Math.round(performance.now() - started),
      ...outcome,
    };
    record(result);
    return result;
  }

  async function pullWith(runtime: RuntimeName, ref: ImageReference, budget: Budget): Promise<Outcome> {
    const pulled = await deps.run(buildPullCommand(runtime, deps.settings, ref.normalized), { timeoutMs: Math.max(1, remaining(budget)), signal: deps.shutdown });
    const failure = failureOf(pulled, budget.timeoutMs);
    if (failure !== undefined) return { ok: false, digest: null, present: false, error: failure };
    const inspectMs = Math.max(1000, Math.min(15_000, remaining(budget)));
    const inspected = await deps.run(buildInspectCommand(runtime, deps.settings, ref.normalized), { timeoutMs: inspectMs, signal: deps.shutdown });
    const digest = inspected.exitCode === 0 ? parseStoredDigest(runtime, ref.normalized, inspected.stdout) : undefined;
    if (digest !== undefined) return { ok: true, digest, present: true };
    const message = `pulled, but ${runtime} does not list the image: ${trimRuntimeMessage(`${inspected.stderr}\n${inspected.stdout}`)}`;
    return { ok: false, digest: null, present: false, error: { code: 'OTHER', message } };
  }

  async function probe(ref: ImageReference, budget: Budget): Promise<RegistryProbeResult | null> {
    if (deps.certsDir === undefined) return null;
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const timeoutMs = Math.max(1, Math.min(remaining(budget), 30_000));
    return probeRegistry({ domain: ref.domain, path: ref.path, reference }, { certsDir: deps.certsDir, timeoutMs, signal: deps.shutdown });
  }

  function record(result: PullCheckResult): void {
    deps.metrics.pullChecksTotal.inc({ result: result.ok ? 'ok' : (result.error?.code ?? 'OTHER') });
    deps.metrics.pullCheckDuration.observe(result.durationMs / 1000);
    deps.logger.info(
      { image: result.image, ok: result.ok, runtime: result.runtime, digest: result.digest, code: result.error?.code, durationMs: result.durationMs },
      `pull check ${result.ok ? 'succeeded' : 'failed'}: ${result.image}`,
    );
  }

  return { check };
}

export type PullChecker = ReturnType<typeof createPullChecker>;

type Outcome = Pick<PullCheckResult, 'ok' | 'digest' | 'present' | 'error'>;

/** What one request asked for and what it found: the runtime wanted, what detection found, the per-image timeout. */
interface Plan {
  readonly wanted: 'auto' | RuntimeName;
  readonly detection: RuntimeDetection;
  readonly timeoutMs: number;
}

/** An image's timeout and its deadline on the `performance.now()` clock. */
interface Budget {
  readonly timeoutMs: number;
  readonly deadline: number;
}

/** Below this, a second pull could not finish anyway: the first answer stands. */
const minRetryMs = 1000;

function remaining(budget: Budget): number {
  return Math.max(0, Math.round(budget.deadline - performance.now()));
}

function disagree(outcome: Outcome, probe: RegistryProbeResult | null): boolean {
  return outcome.error?.code === 'X509_UNKNOWN_AUTHORITY' && probe?.tlsVerified === true;
}

function missing(wanted: 'auto' | RuntimeName, detection: RuntimeDetection): Promise<Outcome> {
  const message = describeMissingRuntime(wanted, detection);
  return Promise.resolve({ ok: false, digest: null, present: false, error: { code: 'RUNTIME_MISSING', message } });
}

function failureOf(r: Awaited<ReturnType<CommandRunner>>, timeoutMs: number): { code: PullErrorCode; message: string } | undefined {
  if (r.spawnError !== undefined) return { code: 'RUNTIME_MISSING', message: `cannot start the runtime: ${r.spawnError}` };
  if (r.timedOut) return { code: 'TIMEOUT', message: `no result within ${timeoutMs} ms; the pull was killed` };
  if (r.canceled) return { code: 'OTHER', message: 'the agent is shutting down; the pull was killed' };
  if (r.exitCode === 0) return undefined;
  const output = `${r.stderr}\n${r.stdout}`;
  // 127: the shell or nsenter could not find the binary on the host.
  if (r.exitCode === 127) return { code: 'RUNTIME_MISSING', message: trimRuntimeMessage(output) };
  return { code: classifyPullFailure(output), message: trimRuntimeMessage(output) };
}
