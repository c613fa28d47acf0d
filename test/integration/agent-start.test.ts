import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess } from '../support/agent.js';

let agent: AgentProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  agent?.child.kill('SIGKILL');
  agent = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** A self-signed TLS listener and a socket: start takes a key generation and two listeners. */
async function sandboxConfig(): Promise<{ config: unknown; socket: string }> {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-start-'));
  const d = (name: string) => path.join(dir ?? '', name);
  for (const name of ['ca', 'c', 'd', 'run', 'backup', 'state', 'minio']) await mkdir(d(name));
  const socket = d('run/agent.sock');
  const config = {
    trust: { sourceDir: d('ca'), containerdCertsDir: d('c'), dockerCertsDir: d('d') },
    hosts: { file: '' },
    server: { listen: '127.0.0.1:0', tls: { mode: 'self-signed' }, auth: { mode: 'none' }, socket },
    backup: { dir: d('backup'), stateDir: d('state'), sources: { minio: d('minio') } },
  };
  return { config, socket };
}

it('SIGTERM while the agent is still starting stops it cleanly: exit 0, no socket left', async () => {
  const { config, socket } = await sandboxConfig();
  agent = await startAgentProcess({ config, waitStarted: false });
  const proc = agent;
  // The first line ("node-ca agent starting") comes before the key is generated and anything listens.
  proc.child.stdout?.once('data', () => proc.child.kill('SIGTERM'));
  const exit = await proc.exited;
  expect({ exit, stderr: proc.stderr }).toEqual({ exit: { code: 0, signal: null }, stderr: [] });
  // The signal landed during start: start finished, then everything it opened was closed.
  const msgs = proc.logs.map((l) => l.msg);
  expect(msgs.indexOf('stopping')).toBeGreaterThan(-1);
  expect(msgs.indexOf('stopping')).toBeLessThan(msgs.indexOf('node-ca agent started'));
  expect(msgs.at(-1)).toBe('node-ca agent stopped');
  expect(existsSync(socket)).toBe(false);
  expect(await readdir(path.dirname(socket))).toEqual([]);
});

it('refuses an unknown NODE_CA_LOG_LEVEL like any configuration error: exit 2, naming it and the levels', async () => {
  const { config } = await sandboxConfig();
  agent = await startAgentProcess({ config, waitStarted: false, env: { NODE_CA_LOG_LEVEL: 'verbose' } });
  expect(await agent.exited).toEqual({ code: 2, signal: null });
  expect(agent.stderr.join('\n')).toBe(
    'node-ca: NODE_CA_LOG_LEVEL: "verbose" is not a log level; use one of trace, debug, info, warn, error, fatal, silent',
  );
});
