import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { startAgent } from '../agent.js';
import { parseConfig } from '../config/load.js';
import { createFdWriter, type FdWriter } from '../demo/fd-writer.js';
import { demoConfig, parseDemoPort, prepareSandbox, type SandboxLayout } from '../demo/sandbox.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { logLevel } from './env.js';
import { startUntilSignal } from './lifecycle.js';

/** Closing the demo's terminal (SIGHUP) stops it like Ctrl-C does. */
const demoStopSignals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/**
 * The agent on this machine, against an embedded sample CA bundle, writing
 * into a sandbox directory instead of /etc; plain HTTP on 127.0.0.1 with a
 * free port (the only place where no TLS and no auth is allowed).
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the agent locally against a sample CA bundle, in a sandbox directory')
    .option('--dir <dir>', 'sandbox directory, kept on exit (default: a new temp directory, removed on exit)')
    // No commander default: it would print `(default: "0")` after the description's own.
    .option('--port <port>', 'port on 127.0.0.1 (default: a free one)', portOption)
    .action(async (opts: { dir?: string; port?: number }) => {
      // Logs go to stderr so the banner on stdout stays readable.
      const logger = createLogger({ level: logLevel(), destination: createFdWriter(2) });
      const sandbox = await openSandbox(opts.dir);
      try {
        await runDemo({ sandbox, port: opts.port ?? 0, logger, out: createFdWriter(1) });
      } catch (err) {
        // A demo that never ran leaves no temp directory behind (a --dir one stays).
        await sandbox.remove();
        throw err;
      }
    });
}

function portOption(value: string): number {
  const port = parseDemoPort(value);
  if (port === undefined) throw new InvalidArgumentError('Not a port: use an integer 0-65535 (0: a free one).');
  return port;
}

/** The sandbox root; `remove` deletes it once, and only when the demo made it. */
interface Sandbox {
  readonly root: string;
  readonly ours: boolean;
  remove(): Promise<void>;
}

async function openSandbox(dir: string | undefined): Promise<Sandbox> {
  if (dir !== undefined) return { root: path.resolve(dir), ours: false, remove: () => Promise.resolve() };
  const root = await mkdtemp(path.join(tmpdir(), 'node-ca-demo-'));
  let removing: Promise<void> | undefined;
  return { root, ours: true, remove: () => (removing ??= rm(root, { recursive: true, force: true })) };
}

interface DemoRun {
  readonly sandbox: Sandbox;
  readonly port: number;
  readonly logger: Logger;
  /** stdout: the banner and the goodbye. */
  readonly out: FdWriter;
}

async function runDemo({ sandbox, port, logger, out }: DemoRun): Promise<void> {
  const layout = await prepareSandbox(sandbox.root);
  const config = parseConfig(demoConfig(layout, port), { NODE_NAME: 'demo-node' }, 'demo');
  const agent = await startUntilSignal(() => startAgent({ config, logger }), logger, {
    onStopped: () => leaveSandbox(sandbox, out),
    signals: demoStopSignals,
  });
  out.write(banner(agent.url ?? '', layout));
}

/** On stop: the sandbox the demo made is removed, one the user named is kept; either way, says where it was. */
async function leaveSandbox(sandbox: Sandbox, out: FdWriter): Promise<void> {
  await sandbox.remove();
  out.write(`node-ca demo stopped; sandbox ${sandbox.ours ? 'removed' : 'kept'}: ${sandbox.root}\n`);
}

function banner(url: string, l: SandboxLayout): string {
  return `
node-ca demo is running (Ctrl-C to stop)

  URL        ${url}
  sandbox    ${l.root}
  CA source  ${l.source}   (one file per ConfigMap key; edit, add or delete one)
  containerd ${l.containerd}
  docker     ${l.docker}

Try:
  curl -s ${url}/v1/status | jq .
  curl -s ${url}/readyz
  curl -s ${url}/metrics | grep node_ca_
  curl -s ${url}/v1/trust | jq '.checks[] | select(.status != "ok")'    # doctor's report
  curl -s -X POST ${url}/v1/backups -H 'content-type: application/json' -d '{}'; sleep 1; curl -s ${url}/v1/backups | jq '.items[0].verification'
  find ${path.join(l.root, 'etc')} -type f | sort
  cat ${path.join(l.containerd, 'image-registry.image-registry-system.svc:5000', 'hosts.toml')}
  echo garbage > ${path.join(l.source, 'mirror.registry.example.com')}   # invalid: last good files stay

`;
}
