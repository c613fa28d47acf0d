import type { CommandRunner } from './run-command.js';
import { buildVersionCommand, runtimeOrder, type RuntimeName, type RuntimeSettings } from './runtimes.js';

/** What detection found: the runtime, or enough to say why there is none. */
export interface RuntimeDetection {
  readonly runtime: RuntimeName | undefined;
  /** The time all probes shared (the request's per-image timeout). */
  readonly timeoutMs: number;
  /** Candidates killed at their probe's timeout, with what that timeout was. */
  readonly timedOut: readonly { readonly runtime: RuntimeName; readonly timeoutMs: number }[];
  /** Candidates never probed: the shared time was used up before their turn. */
  readonly untried: readonly RuntimeName[];
}

export interface DetectOptions {
  /** For all probes together, from the call on. */
  readonly timeoutMs: number;
  /** Aborted on agent shutdown. */
  readonly signal: AbortSignal;
}

/** At most this per `--version` probe: a binary that answers at all answers in well under it. */
const probeTimeoutMs = 10_000;

/**
 * The runtime to use: the one asked for if it answers `--version`, or with
 * `auto` the first of nerdctl, crictl, ctr that does, each probed through the
 * hostExec prefix (so it is the host's binary that is found). The probes share
 * one deadline, so three hanging binaries cost the request's timeout, not 30 s
 * before any image starts.
 */
export async function detectRuntime(
  wanted: 'auto' | RuntimeName,
  settings: RuntimeSettings,
  run: CommandRunner,
  options: DetectOptions,
): Promise<RuntimeDetection> {
  const deadline = performance.now() + options.timeoutMs;
  const candidates = wanted === 'auto' ? runtimeOrder : [wanted];
  const timedOut: RuntimeDetection['timedOut'][number][] = [];
  const found = (runtime: RuntimeName | undefined, untried: readonly RuntimeName[] = []): RuntimeDetection => ({
    runtime,
    timeoutMs: options.timeoutMs,
    timedOut,
    untried,
  });
  for (const [index, runtime] of candidates.entries()) {
    const left = Math.round(deadline - performance.now());
    if (left <= 0) return found(undefined, candidates.slice(index));
    const timeoutMs = Math.min(probeTimeoutMs, left);
    const r = await run(buildVersionCommand(runtime, settings), { timeoutMs, signal: options.signal });
    if (r.exitCode === 0) return found(runtime);
    if (r.timedOut) timedOut.push({ runtime, timeoutMs });
  }
  return found(undefined);
}

/**
 * The RUNTIME_MISSING message. A probe killed for time is said so, with the
 * milliseconds it had: a hung runtime (or hostExec) is not a missing one.
 */
export function describeMissingRuntime(wanted: 'auto' | RuntimeName, detection: RuntimeDetection): string {
  const late = [
    ...detection.timedOut.map((t) => `${t.runtime} did not answer --version through pull.hostExec within ${t.timeoutMs} ms`),
    ...(detection.untried.length === 0
      ? []
      : [`${detection.untried.join(', ')} not tried: the ${detection.timeoutMs} ms timeout was used up`]),
  ];
  if (late.length > 0) return `${wanted === 'auto' ? 'no runtime answered --version in time: ' : ''}${late.join('; ')}`;
  return wanted === 'auto'
    ? 'none of nerdctl, crictl, ctr answers --version through pull.hostExec'
    : `${wanted} is not installed or does not answer --version through pull.hostExec`;
}
