import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { allowedMethods } from '../../../src/server/app.js';
import { allowAll, createTokenAuthorizer } from '../../../src/server/auth.js';
import { validationMessage } from '../../../src/server/errors.js';
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
    ['bad percent-encoding in the path', { method: 'GET', url: '/v1/backups/%FF' }, 400, 'BAD_REQUEST'],
    ['path parameter over maxParamLength', { method: 'GET', url: `/v1/backups/${'a'.repeat(101)}` }, 414, 'URI_TOO_LONG'],
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

describe('errors the router meets before any route', () => {
  it.each([
    ['/v1/backups/%FF-SECRET-%FF', 400, 'BAD_REQUEST'],
    [`/v1/backups/SECRET-${'a'.repeat(200)}`, 414, 'URI_TOO_LONG'],
  ] as const)('%s → %i %s in the SPEC shape, before auth, without echoing the URL', async (url, status, code) => {
    app = await appWith(createTokenAuthorizer({ matches: () => false }));
    const res = await app.inject({ url, headers: { authorization: 'Bearer tok-SECRET' } });
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expectErrorShape(res.json(), code);
    expect(res.body).not.toContain('SECRET');
  });
});

describe('validation messages name the part and the key, once', () => {
  it.each([
    [{ method: 'POST', url: '/v1/backups', payload: '{"source":"minio","foo":1}', headers: json }, 'body: unknown field "foo"'],
    [{ method: 'POST', url: '/v1/backups', payload: '{"allowChanges":"yes"}', headers: json }, 'body/allowChanges: must be boolean'],
    [{ method: 'GET', url: '/v1/backups?limit=5' }, 'query: unknown parameter "limit"'],
    [{ method: 'GET', url: '/v1/backups/..%2Fetc' }, 'params/id: must match pattern "^[a-z0-9-]{1,64}$"'],
  ] as const)('%j → %s', async (request, message) => {
    app = await appWith(allowAll);
    const res = await app.inject(request as never);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'BAD_REQUEST', message } });
  });

  it.each([
    ['querystring', { keyword: 'additionalProperties', params: { additionalProperty: 'x' }, instancePath: '' }, 'query: unknown parameter "x"'],
    ['body', { keyword: 'required', params: { missingProperty: 'images' }, instancePath: '' }, 'body: missing field "images"'],
    ['body', { keyword: 'type', params: { type: 'string' }, instancePath: '/images/0' }, 'body/images/0: must be string'],
    [undefined, { keyword: 'type', params: { type: 'string' }, instancePath: '' }, 'request: must be string'],
  ] as const)('%s %j → %s', (context, issue, message) => {
    const ajvText = issue.keyword === 'type' ? 'must be string' : 'ajv text';
    expect(validationMessage(context, { ...issue, schemaPath: '#', message: ajvText })).toBe(message);
  });
});

describe('a trailing slash', () => {
  it.each([
    ['GET', '/v1/status/', 200],
    ['GET', '/v1/backups/', 200],
    ['GET', '/v1/backups/abc-1/', 200],
    ['HEAD', '/v1/status/', 200],
    ['POST', '/v1/backups/', 202],
    ['DELETE', '/v1/status/', 405],
  ] as const)('%s %s is the route without it (%i)', async (method, url, status) => {
    app = await appWith(allowAll);
    const res = await app.inject({ method, url });
    expect(res.statusCode).toBe(status);
    if (status === 405) expect(res.headers.allow).toBe('GET, HEAD');
  });

  it('answers the same body as without it', async () => {
    app = await appWith(allowAll);
    expect((await app.inject({ url: '/v1/backups/' })).json()).toEqual({ items: [] });
    expect((await app.inject({ url: '/v1/status/' })).json()).toEqual({ node: 'n1' });
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
