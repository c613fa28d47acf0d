import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from './poll.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const cliPath = path.join(repoRoot, 'dist/cli/main.js');

/** `server:` of an agent under test: plain HTTP on a free loopback port, no auth, no socket. */
export const loopbackServer = {
  listen: '127.0.0.1:0',
  tls: { mode: 'disabled' },
  auth: { mode: 'none' },
  socket: '',
} as const;

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** From the "node-ca agent started" log line. */
  readonly url: string | undefined;
  readonly socket: string | undefined;
  readonly logs: LogLine[];
  readonly stderr: string[];
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM (default) and wait for exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartAgentOptions {
  /** The agent configuration (written as a JSON file, which is valid YAML). */
  readonly config: unknown;
  readonly env?: Readonly<Record<string, string>>;
  /** Command prefix, e.g. an `unshare -m` wrapper; the node binary and args follow. */
  readonly prefix?: readonly string[];
  /** Node/V8 flags before the script, e.g. the image's (bench/lib.mjs `shippedNodeFlags`). */
  readonly nodeArgs?: readonly string[];
  /** Extra CLI args instead of `agent --config FILE`. */
  readonly args?: (configFile: string) => string[];
  /** Wait for the start line (default true). */
  readonly waitStarted?: boolean;
}

/** Runs the built CLI as a real process (Node 24: the same binary that runs the tests). */
export async function startAgentProcess(options: StartAgentOptions): Promise<AgentProcess> {
  const configFile = await writeConfigFile(options.config);
  const child = spawnAgent(options, configFile);
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => logs.push(parseLine(line)));
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
    }),
  );
  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 15_000) =>
    waitFor(() => logs.find(pred), { timeoutMs, message: `agent log line (stderr: ${stderr.slice(-5).join(' | ')})` });
  const started = (options.waitStarted ?? true) ? await waitForStartLine(exited, logs, stderr) : undefined;
  return {
    child,
    // -1 would mean "every process" to kill(2): never a stand-in for a missing pid.
    pid: child.pid ?? fail('the agent process has no pid (spawn failed)'),
    url: stringField(started, 'url'),
    socket: stringField(started, 'socket'),
    logs,
    stderr,
    waitForLog,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Writes the configuration to a fresh temp dir; returns the file's path. */
async function writeConfigFile(config: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'node-ca-cfg-'));
  const configFile = path.join(dir, 'config.yaml');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  return configFile;
}

/** `[prefix…] node [nodeArgs…] cli args…` with a minimal environment, stdout and stderr piped. */
function spawnAgent(options: StartAgentOptions, configFile: string) {
  const args = options.args?.(configFile) ?? ['agent', '--config', configFile];
  const argv = [...(options.prefix ?? []), process.execPath, ...(options.nodeArgs ?? []), cliPath, ...args];
  return spawn(argv[0]!, argv.slice(1), {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', NODE_NAME: 'test-node', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Polls for the "node-ca agent started" line; once the agent has exited, each poll fails with its output. */
async function waitForStartLine(exited: Promise<unknown>, logs: readonly LogLine[], stderr: readonly string[]): Promise<LogLine> {
  let exitedEarly = false;
  void exited.then(() => (exitedEarly = true));
  return waitFor(
    () => {
      if (exitedEarly) throw new Error(`agent exited early: ${stderr.join('\n')} ${JSON.stringify(logs.slice(-3))}`);
      return logs.find((l) => l.msg === 'node-ca agent started');
    },
    { timeoutMs: 20_000, message: 'agent start' },
  );
}

/** A string field of a log line (the start line's `url`, `socket`); undefined when absent or not a string. */
function stringField(line: LogLine | undefined, key: string): string | undefined {
  const value = line?.[key];
  return typeof value === 'string' ? value : undefined;
}

function parseLine(line: string): LogLine {
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return { msg: line, raw: true };
  }
}

function fail(message: string): never {
  throw new Error(message);
}
