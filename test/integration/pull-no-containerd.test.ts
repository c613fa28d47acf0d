import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loopbackServer, startAgentProcess, type AgentProcess } from '../support/agent.js';

// Debian's real ctr against a pull.address where no containerd listens: ctr gives up dialing
// after its own 10 s with "context deadline exceeded", which reads like a registry timeout.
// The runtime, not the registry, is what is missing.

const registry = 'registry.example.internal:5000';
let dir: string;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-noctrd-'));
  await mkdir(path.join(dir, 'source'));
  agent = await startAgentProcess({
    config: {
      trust: { sourceDir: path.join(dir, 'source'), containerdCertsDir: path.join(dir, 'certs.d'), dockerCertsDir: '' },
      hosts: { file: '' },
      server: loopbackServer,
      pull: { runtime: 'ctr', address: path.join(dir, 'no-containerd.sock'), hostsDir: path.join(dir, 'certs.d'), allowedRegistries: [registry] },
    },
  });
});

afterAll(async () => {
  await agent?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('pull check with no containerd on pull.address (real ctr)', () => {
  it('reports RUNTIME_MISSING with ctr\'s dial error, not TIMEOUT', async () => {
    const response = await fetch(`${agent!.url}/v1/pull-checks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ images: [`${registry}/acp/core:v1`], timeoutSeconds: 60 }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { ok: boolean; results: { runtime: string; error?: { code: string; message: string } }[] };
    expect(body.ok).toBe(false);
    expect(body.results[0]).toMatchObject({ runtime: 'ctr', error: { code: 'RUNTIME_MISSING' } });
    expect(body.results[0]?.error?.message).toContain(`failed to dial "${path.join(dir, 'no-containerd.sock')}"`);
  });
});
