import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess } from '../support/agent.js';
import { makeCa } from '../support/pki.js';
import { waitFor } from '../support/poll.js';
import { createTrustSandbox } from '../support/trust-fixture.js';

const HOST = 'registry.test.local:5000';
const versions = [makeCa('V0', { keyIndex: 0 }), makeCa('V1', { keyIndex: 1 }), makeCa('V2', { keyIndex: 2 }), makeCa('V3', { keyIndex: 0 })];
// Two bundle shapes per version (one and two certificates) so sizes differ and a torn write would show.
const bundles = versions.flatMap((v, i) => [v.cert, v.cert + (versions[(i + 1) % versions.length]?.cert ?? '')]);

let agent: AgentProcess | undefined;
let box: Awaited<ReturnType<typeof createTrustSandbox>> | undefined;
afterEach(async () => {
  await agent?.stop('SIGKILL');
  await box?.remove();
});

/** Opens every host's ca.crt and hosts.toml under a certs.d directory once, adding each content read to the sets. */
async function readHostFiles(dir: string, seenCa: Set<string>, seenToml: Set<string>): Promise<void> {
  const hosts = await readdir(dir).catch(() => [] as string[]);
  for (const h of hosts) {
    const ca = await readFile(path.join(dir, h, 'ca.crt'), 'utf8').catch(() => undefined);
    if (ca !== undefined) seenCa.add(ca);
    const toml = await readFile(path.join(dir, h, 'hosts.toml'), 'utf8').catch(() => undefined);
    if (toml !== undefined) seenToml.add(toml);
  }
}

it('kill -9 at random instants during a stream of updates never leaves a partial or corrupt file', async () => {
  box = await createTrustSandbox();
  const sandbox = box;
  const seenCa = new Set<string>();
  const seenToml = new Set<string>();
  const state = { reading: true };
  const hostsToml = (await import('../../src/trust/render.js')).renderHostsToml;
  const allowedToml = new Set([...Array(3).keys()].map((i) => hostsToml(`r${i}.test.local`)).concat(hostsToml(HOST)));

  // A reader that keeps opening every file the agent may write, as containerd would.
  const reader = (async () => {
    while (state.reading) {
      for (const dir of [sandbox.containerd, sandbox.docker]) await readHostFiles(dir, seenCa, seenToml);
      await new Promise((r) => setImmediate(r));
    }
  })();

  let last: Record<string, string> = {};
  for (let cycle = 0; cycle < 8; cycle++) {
    agent = await startAgentProcess({ config: sandbox.config() });
    const writes = 5 + Math.floor(Math.random() * 10);
    for (let i = 0; i < writes; i++) {
      const n = cycle * 100 + i;
      last = { 'registry.test.local..5000': bundles[n % bundles.length]!, [`r${n % 3}.test.local`]: bundles[(n + 3) % bundles.length]! };
      await sandbox.source.write(last);
      await new Promise((r) => setTimeout(r, Math.random() * 15));
    }
    await agent.stop('SIGKILL');
  }
  // After the last kill, a fresh agent converges on the last version.
  agent = await startAgentProcess({ config: sandbox.config() });
  await waitFor(async () => (await readFile(path.join(sandbox.containerd, HOST, 'ca.crt'), 'utf8')) === last['registry.test.local..5000'], {
    message: 'converged after restart',
  });
  state.reading = false;
  await reader;

  expect(seenCa.size).toBeGreaterThan(1);
  for (const ca of seenCa) expect(bundles).toContain(ca);
  for (const toml of seenToml) expect(allowedToml.has(toml)).toBe(true);
  for (const dir of [sandbox.containerd, sandbox.docker]) {
    const entries = await readdir(dir, { recursive: true });
    expect(entries.filter((e) => path.basename(e).startsWith('.node-ca-'))).toEqual([]);
  }
});
