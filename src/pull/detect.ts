import type { CommandRunner } from './run-command.js';
import { buildVersionCommand, runtimeOrder, type RuntimeName, type RuntimeSettings } from './runtimes.js';

/**
 * The runtime to use: the one asked for if it answers `--version`, or with
 * `auto` the first of nerdctl, crictl, ctr that does, each probed through the
 * hostExec prefix (so it is the host's binary that is found). Undefined: none.
 */
export async function detectRuntime(
  wanted: 'auto' | RuntimeName,
  settings: RuntimeSettings,
  run: CommandRunner,
  signal: AbortSignal,
): Promise<RuntimeName | undefined> {
  const candidates = wanted === 'auto' ? runtimeOrder : [wanted];
  for (const runtime of candidates) {
    const r = await run(buildVersionCommand(runtime, settings), { timeoutMs: 10_000, signal });
    if (r.exitCode === 0) return runtime;
  }
  return undefined;
}
