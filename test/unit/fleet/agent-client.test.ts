import { createServer, type Server } from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentClient, pullCheckTimeoutMs } from '../../../src/fleet/agent-api.js';
import { agentJson, createAgentTransport } from '../../../src/fleet/agent-client.js';
import { issueServerCert, makeCa } from '../../support/pki.js';

const ca = makeCa('agent-client-test');
const cert = issueServerCert(ca, ['127.0.0.1']);
let server: Server | undefined;

afterEach(() => {
  server?.close();
  server = undefined;
});

/** An agent double: answers after `delayMs`, 401 unless the token is `good`. */
async function agent(delayMs: number): Promise<{ url: string; tokens: string[] }> {
  const tokens: string[] = [];
  server = createServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    tokens.push(token);
    setTimeout(() => {
      const ok = token === 'good';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { ok: true, results: [] } : { error: { code: 'UNAUTHORIZED', message: 'expired' } }));
    }, delayMs);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `https://127.0.0.1:${port}`, tokens };
}

describe('agent transport', () => {
  it('waits for a pull check as long as the agent may take: 120 s per wave of 3 images, plus a margin', () => {
    expect(pullCheckTimeoutMs(1)).toBeGreaterThan(120_000);
    expect(pullCheckTimeoutMs(3)).toBeLessThan(240_000);
    expect(pullCheckTimeoutMs(4)).toBeGreaterThan(240_000);
  });

  it('a per-call timeout overrides the transport default, and fleet giving up is FLEET_TIMEOUT', async () => {
    const { url } = await agent(300);
    const transport = createAgentTransport({ token: 'good', timeoutMs: 100 });
    try {
      await expect(
        agentJson(transport, url, { method: 'GET', path: '/v1/status', timeoutMs: 2_000 }),
      ).resolves.toEqual({ ok: true, results: [] });
      await expect(
        agentJson(transport, url, { method: 'GET', path: '/v1/status' }),
      ).rejects.toMatchObject({ code: 'FLEET_TIMEOUT', message: /fleet stopped waiting/ });
    } finally {
      transport.close();
    }
  });

  it('the pull-check call waits longer than the 30 s default', async () => {
    const { url } = await agent(300);
    // A transport default shorter than the answer: only the derived per-call timeout lets it through.
    const transport = createAgentTransport({ token: 'good', timeoutMs: 100 });
    try {
      const client = createAgentClient(transport, { node: 'n1', url });
      await expect(client.pullCheck(['r/x:1'])).resolves.toEqual({ ok: true, results: [] });
    } finally {
      transport.close();
    }
  });

  it('obtains the token again on 401 and retries once', async () => {
    const { url, tokens } = await agent(0);
    let asked = 0;
    const transport = createAgentTransport({
      token: 'expired',
      refreshToken: async () => {
        asked += 1;
        return 'good';
      },
    });
    try {
      await expect(
        agentJson(transport, url, { method: 'GET', path: '/v1/status' }),
      ).resolves.toEqual({ ok: true, results: [] });
      expect(tokens).toEqual(['expired', 'good']);
      expect(asked).toBe(1);
    } finally {
      transport.close();
    }
  });

  it('a 401 with the same token again fails as UNAUTHORIZED after one retry', async () => {
    const { url, tokens } = await agent(0);
    const transport = createAgentTransport({ token: 'bad', refreshToken: async () => 'bad2' });
    try {
      await expect(
        agentJson(transport, url, { method: 'GET', path: '/v1/status' }),
      ).rejects.toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
      expect(tokens).toEqual(['bad', 'bad2']);
    } finally {
      transport.close();
    }
  });
});
