import type { Readable } from 'node:stream';
import type { Argv } from './runtimes.js';

export interface CommandResult {
  readonly exitCode: number | undefined;
  /** Last `outputCap` bytes of stdout and of stderr (the error is at the end). */
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly canceled: boolean;
  /** The binary (or the hostExec prefix's first word) could not be started: ENOENT, EACCES. */
  readonly spawnError: string | undefined;
}

export interface RunOptions {
  readonly timeoutMs: number;
  /** Aborted on agent shutdown: the child gets SIGTERM, then SIGKILL. */
  readonly signal?: AbortSignal;
  /** Bytes kept per stream (default 64 KiB): ctr prints progress frames for as long as a pull runs. */
  readonly outputCap?: number;
}

export type CommandRunner = (argv: Argv, options: RunOptions) => Promise<CommandResult>;

/** The PATH a node's runtime binaries live in when the agent's environment gives none. */
export const defaultCommandPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Runs one argument array with execa: never a shell, a minimal environment,
 * a timeout and a cancel signal that both kill the child (SIGKILL 2 s after
 * SIGTERM), output kept as a bounded tail instead of an unbounded buffer.
 */
export function createCommandRunner(env: { readonly path?: string | undefined }): CommandRunner {
  return (argv, options) => runCommand(argv, options, env.path ?? defaultCommandPath);
}

async function runCommand(argv: Argv, options: RunOptions, path: string): Promise<CommandResult> {
  const cap = options.outputCap ?? 64 * 1024;
  // Loaded at the first pull check, not at start: execa and its dependencies
  // are about 4 MiB of the resident agent's RSS, and most agents never run one.
  const { execa } = await import('execa');
  const child = execa(argv[0], argv.slice(1), {
    timeout: options.timeoutMs,
    ...(options.signal === undefined ? {} : { cancelSignal: options.signal }),
    forceKillAfterDelay: 2000,
    buffer: false,
    stdin: 'ignore',
    reject: false,
    extendEnv: false,
    env: { PATH: path },
  });
  const stdout = collectTail(child.stdout, cap);
  const stderr = collectTail(child.stderr, cap);
  const result = await child;
  return {
    exitCode: result.exitCode,
    stdout: stdout(),
    stderr: stderr(),
    timedOut: result.timedOut,
    canceled: result.isCanceled,
    spawnError: result.exitCode === undefined && !result.timedOut && !result.isCanceled ? (result.code ?? 'spawn failed') : undefined,
  };
}

function collectTail(stream: Readable | null, cap: number): () => string {
  let chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size > 2 * cap) {
      const all = Buffer.concat(chunks);
      chunks = [all.subarray(all.length - cap)];
      size = cap;
    }
  });
  return () => {
    const all = Buffer.concat(chunks);
    return all.subarray(Math.max(0, all.length - cap)).toString('utf8');
  };
}
