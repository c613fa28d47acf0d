import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { allowedMethods } from '../../../src/server/app.js';
import { allowAll } from '../../../src/server/auth.js';
import { appWith } from './routes-fixture.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const json = { 'content-type': 'application/json' };

/** Every error answer is exactly `{"error": {"code", "message"}}` (plus documented detail fields). */
function expectErrorShape(body: unknown, code: string) {
  const { error } = body as { error: { message: unknown } };
  expect(typeof error.message).toBe('string');
  expect(body).toEqual({ error: { code, message: error.message } });
}

describe('the SPEC error shape on every error', () => {
  it.each([
    ['unknown body field', { method: 'POST', url: '/v1/backups', payload: '{"source":"minio","extra":1}', headers: json }, 400, 'BAD_REQUEST'],
    ['wrong body type', { method: 'POST', url: '/v1/backups', payload: '{"allowChanges":"yes"}', headers: json }, 400, 'BAD_REQUEST'],
    ['body not an object', { method: 'POST', url: '/v1/backups', payload: '[1,2]', headers: json }, 400, 'BAD_REQUEST'],
    ['bad JSON', { method: 'POST', url: '/v1/backups', payload: '{"source":', headers: json }, 400, 'BAD_REQUEST'],
    ['empty JSON body', { method: 'POST', url: '/v1/backups', payload: '', headers: json }, 400, 'BAD_REQUEST'],
    ['text/plain body', { method: 'POST', url: '/v1/backups', payload: 'source=minio', headers: { 'content-type': 'text/plain' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['form body', { method: 'POST', url: '/v1/backups', payload: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['unknown query parameter', { method: 'GET', url: '/v1/backups?limit=5' }, 400, 'BAD_REQUEST'],
    ['unknown query parameter on status', { method: 'GET', url: '/v1/status?verbose' }, 400, 'BAD_REQUEST'],
    ['bad path parameter', { method: 'GET', url: '/v1/backups/..%2Fetc' }, 400, 'BAD_REQUEST'],
    ['unknown route', { method: 'GET', url: '/v2/backups' }, 404, 'NOT_FOUND'],
    ['route-level 404', { method: 'GET', url: '/v1/missing' }, 404, 'NOT_FOUND'],
    ['wrong method', { method: 'PUT', url: '/v1/backups' }, 405, 'METHOD_NOT_ALLOWED'],
    ['wrong method on an item', { method: 'POST', url: '/v1/backups/abc' }, 405, 'METHOD_NOT_ALLOWED'],
  ] as const)('%s → %i %s', async (_name, request, status, code) => {
    app = await appWith(allowAll);
    const res = await app.inject(request as never);
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expectErrorShape(res.json(), code);
  });

  it('answers 413 PAYLOAD_TOO_LARGE above the body limit', async () => {
    app = await appWith(allowAll, undefined, 1024);
    const res = await app.inject({ method: 'POST', url: '/v1/backups', payload: JSON.stringify({ source: 'x'.repeat(2000) }), headers: json });
    expect(res.statusCode).toBe(413);
    expectErrorShape(res.json(), 'PAYLOAD_TOO_LARGE');
  });

  it('names the allowed methods in a 405 (Allow header and message)', async () => {
    app = await appWith(allowAll);
    const res = await app.inject({ method: 'PATCH', url: '/v1/backups/abc' });
    expect(res.headers.allow).toBe('DELETE, GET, HEAD');
    expect(res.json<{ error: { message: string } }>().error.message).toContain('DELETE, GET, HEAD');
  });

  it('answers an unexpected error with a generic 500 that does not leak its message', async () => {
    app = await appWith(allowAll);
    const res = await app.inject({ url: '/v1/boom' });
    expect(res.statusCode).toBe(500);
    expectErrorShape(res.json(), 'INTERNAL');
    expect(res.body).not.toContain('/secret/host/path');
  });

  it('accepts valid input (the schemas are not refusing everything)', async () => {
    app = await appWith(allowAll);
    const res = await app.inject({ method: 'POST', url: '/v1/backups', payload: { source: 'minio', allowChanges: true } });
    expect(res.statusCode).toBe(202);
    expect((await app.inject({ url: '/v1/backups/abc-1' })).json()).toEqual({ id: 'abc-1' });
    expect((await app.inject({ method: 'POST', url: '/v1/backups' })).statusCode).toBe(202);
  });
});

describe('allowedMethods', () => {
  const routes = [
    { method: 'GET' as const, url: '/v1/backups' },
    { method: ['POST' as const], url: '/v1/backups' },
    { method: 'GET' as const, url: '/v1/backups/:id' },
    { method: 'GET' as const, url: '/v1/backups/:id/archive' },
  ];
  it.each([
    ['/v1/backups', ['GET', 'POST']],
    ['/v1/backups/', ['GET', 'POST']],
    ['/v1/backups/x', ['GET']],
    ['/v1/backups/x/archive', ['GET']],
    ['/v1/backups/x/y', []],
    ['/v1/backupsX', []],
  ])('%s → %j', (path, methods) => {
    expect(allowedMethods(routes, path)).toEqual(methods);
  });
});
