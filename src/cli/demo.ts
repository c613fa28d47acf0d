import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { pino } from 'pino';
import { startAgent } from '../agent.js';
import { parseConfig } from '../config/load.js';
import { demoBundles } from '../demo/sample-ca.js';
import { createLogger } from '../lib/logger.js';
import { logLevel } from './env.js';
import { startUntilSignal } from './lifecycle.js';

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
    .option('--port <port>', 'port on 127.0.0.1 (default: a free one)')
    .action(async (opts: { dir?: string; port?: string }) => {
      // Logs go to stderr so the banner on stdout stays readable.
      const logger = createLogger({ level: logLevel(), destination: pino.destination(2) });
      const sandbox = opts.dir ?? (await mkdtemp(path.join(tmpdir(), 'node-ca-demo-')));
      const layout = await prepareSandbox(sandbox);
      const config = parseConfig(demoConfig(layout, opts.port ?? '0'), { NODE_NAME: 'demo-node' }, 'demo');
      const leave = () => leaveSandbox(sandbox, opts.dir === undefined);
      const agent = await startUntilSignal(() => startAgent({ config, logger }), logger, leave);
      process.stdout.write(banner(agent.url ?? '', layout));
    });
}

/** On stop: the sandbox the demo made is removed, one the user named is kept; either way, says where it was. */
async function leaveSandbox(root: string, ours: boolean): Promise<void> {
  if (!ours) {
    process.stdout.write(`node-ca demo stopped; sandbox kept: ${root}\n`);
    return;
  }
  await rm(root, { recursive: true, force: true });
  process.stdout.write(`node-ca demo stopped; sandbox removed: ${root}\n`);
}

interface SandboxLayout {
  root: string;
  source: string;
  containerd: string;
  docker: string;
  socket: string;
}

async function prepareSandbox(root: string): Promise<SandboxLayout> {
  const layout: SandboxLayout = {
    root,
    source: path.join(root, 'ca-bundle'),
    containerd: path.join(root, 'etc/containerd/certs.d'),
    docker: path.join(root, 'etc/docker/certs.d'),
    socket: path.join(root, 'run/agent.sock'),
  };
  await mkdir(layout.source, { recursive: true });
  for (const [key, pem] of demoBundles) await writeFile(path.join(layout.source, key), pem);
  // A tiny stand-in for /cpaas/minio, so the backup API has something to archive.
  const bucket = path.join(root, 'minio', 'registry', 'docker', 'registry', 'v2');
  await mkdir(bucket, { recursive: true });
  await writeFile(path.join(bucket, 'xl.meta'), 'demo object metadata\n');
  await mkdir(path.join(root, 'minio', '.minio.sys'), { recursive: true });
  await writeFile(path.join(root, 'minio', '.minio.sys', 'format.json'), '{"version":"1"}\n');
  return layout;
}

function demoConfig(l: SandboxLayout, port: string): unknown {
  return {
    trust: { sourceDir: l.source, containerdCertsDir: l.containerd, dockerCertsDir: l.docker, resyncSeconds: 30 },
    hosts: { file: '' },
    server: { listen: `127.0.0.1:${port}`, tls: { mode: 'disabled' }, auth: { mode: 'none' }, socket: l.socket },
    backup: { dir: path.join(l.root, 'backup'), stateDir: path.join(l.root, 'state'), sources: { minio: path.join(l.root, 'minio') } },
  };
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
