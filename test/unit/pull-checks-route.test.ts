import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../src/lib/logger.js';
import type { PullChecker } from '../../src/pull/checker.js';
import { createApp } from '../../src/server/app.js';
import { pullCheckRoutes } from '../../src/server/routes/pull-checks.js';

const allowed = ['registry.local:5000'];

// A checker that records calls: a 400 must come before any check (and so any process) starts.
function recordingChecker() {
  const calls: unknown[] = [];
  const checker: PullChecker = {
    check: (refs, options) => {
      calls.push({ refs, options });
      return Promise.resolve({ ok: true, results: [] });
    },
  };
  return { checker, calls };
}

describe('POST /v1/pull-checks validation', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
  });

  async function post(body: unknown) {
    const { checker, calls } = recordingChecker();
    app = await createApp({ logger: createLogger({ level: 'silent' }), routes: [pullCheckRoutes({ checker, allowedRegistries: () => allowed })] });
    const res = await app.inject({ method: 'POST', url: '/v1/pull-checks', payload: body as object });
    await app.close();
    app = undefined;
    return { status: res.statusCode, body: res.json<{ error?: { code: string; message: string } }>(), calls };
  }

  it.each([
    ['malformed reference', { images: ['registry.local:5000/acp/core:'] }, 'INVALID_IMAGE_REFERENCE'],
    ['shell metacharacters', { images: ['registry.local:5000/acp/core:v1;reboot'] }, 'INVALID_IMAGE_REFERENCE'],
    ['command substitution', { images: ['registry.local:5000/$(reboot)'] }, 'INVALID_IMAGE_REFERENCE'],
    ['uppercase path', { images: ['registry.local:5000/ACP/core:v1'] }, 'INVALID_IMAGE_REFERENCE'],
    ['unregistered digest algorithm', { images: [`registry.local:5000/acp/core@md5:${'a'.repeat(32)}`] }, 'INVALID_IMAGE_REFERENCE'],
    ['a bare 64-hex identifier', { images: ['e'.repeat(64)] }, 'INVALID_IMAGE_REFERENCE'],
    ['foreign registry', { images: ['registry.local:5000/a:b', 'evil.example.com/acp/core:v1'] }, 'REGISTRY_NOT_ALLOWED'],
    ['docker.io by normalisation', { images: ['alpine'] }, 'REGISTRY_NOT_ALLOWED'],
    ['empty list', { images: [] }, 'BAD_REQUEST'],
    ['oversized list', { images: Array.from({ length: 21 }, (_, i) => `registry.local:5000/a:v${i}`) }, 'BAD_REQUEST'],
    ['no images', {}, 'BAD_REQUEST'],
    ['unknown field', { images: ['registry.local:5000/a:b'], shell: true }, 'BAD_REQUEST'],
    ['unknown runtime', { images: ['registry.local:5000/a:b'], runtime: 'docker' }, 'BAD_REQUEST'],
    ['timeout above 120 s', { images: ['registry.local:5000/a:b'], timeoutSeconds: 600 }, 'BAD_REQUEST'],
    ['non-string image', { images: [42] }, 'BAD_REQUEST'],
  ])('400 for %s, before any check starts', async (_name, body, code) => {
    const r = await post(body);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe(code);
    expect(r.calls).toHaveLength(0);
  });

  it('passes normalised, deduplicated references and the lowered timeout to the checker', async () => {
    const r = await post({ images: ['registry.local:5000/acp/core', 'registry.local:5000/acp/core:latest'], runtime: 'ctr', timeoutSeconds: 5 });
    expect(r.status).toBe(200);
    expect(r.calls).toEqual([
      { refs: [expect.objectContaining({ normalized: 'registry.local:5000/acp/core:latest' })], options: { runtime: 'ctr', timeoutMs: 5000 } },
    ]);
  });

  it('gives the runtime an uppercase registry host lowercased, as node-ca names its certs.d directory', async () => {
    const r = await post({ images: ['REGISTRY.Local:5000/acp/core:v1', 'registry.local:5000/acp/core:v1'] });
    expect(r.status).toBe(200);
    expect(r.calls).toEqual([
      { refs: [expect.objectContaining({ domain: 'registry.local:5000', normalized: 'registry.local:5000/acp/core:v1' })], options: {} },
    ]);
  });
});
