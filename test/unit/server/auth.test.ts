import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import {
  allowAll,
  bearerToken,
  createTokenAuthorizer,
  defaultVerb,
  type AccessAttributes,
  type AccessReviewer,
  type TokenReviewResult,
} from '../../../src/server/auth.js';
import { createKubernetesAuthorizer } from '../../../src/server/auth-kubernetes.js';
import { isLoopbackAddress } from '../../../src/lib/net.js';
import { appWith } from './routes-fixture.js';

/** A table-driven reviewer: tokens → users, and "user verb resource" → allowed. */
function tableReviewer(users: Record<string, string>, grants: string[]) {
  const calls = { tokens: [] as { token: string; audiences: readonly string[] }[], access: [] as AccessAttributes[] };
  let down = false;
  const reviewer: AccessReviewer = {
    reviewToken(token, audiences) {
      calls.tokens.push({ token, audiences });
      if (down) return Promise.reject(new Error('connect ECONNREFUSED 10.0.0.1:443'));
      const username = users[token];
      const result: TokenReviewResult =
        username === undefined ? { authenticated: false } : { authenticated: true, user: { username, uid: `uid-${username}`, groups: ['system:authenticated'] } };
      return Promise.resolve(result);
    },
    reviewAccess(attrs) {
      calls.access.push(attrs);
      if (down) return Promise.reject(new Error('connect ECONNREFUSED 10.0.0.1:443'));
      return Promise.resolve({ allowed: grants.includes(`${attrs.user} ${attrs.verb} ${attrs.resource}`) });
    },
  };
  return { reviewer, calls, setDown: (v: boolean) => (down = v) };
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

type ErrBody = { error: { code: string; message: string } };
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('auth.mode: token', () => {
  const authorize = createTokenAuthorizer({ matches: (t) => t === 's3cret' });

  it('answers 401 UNAUTHENTICATED with a Bearer challenge when no token is sent', async () => {
    app = await appWith(authorize);
    const res = await app.inject({ url: '/v1/status' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="node-ca"');
    expect(res.json<ErrBody>().error.code).toBe('UNAUTHENTICATED');
    expect(res.json<ErrBody>().error.message).toContain('Bearer');
  });

  it.each([['wrong'], ['s3cret2'], ['']])('answers 401 for the wrong token %j', async (token) => {
    app = await appWith(authorize);
    const res = await app.inject({ url: '/v1/backups', headers: bearer(token) });
    expect(res.statusCode).toBe(401);
    expect(res.json<ErrBody>().error.code).toBe('UNAUTHENTICATED');
  });

  it('accepts the right token, whatever the case of the scheme', async () => {
    app = await appWith(authorize);
    expect((await app.inject({ url: '/v1/status', headers: bearer('s3cret') })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/status', headers: { authorization: 'bearer s3cret' } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/status', headers: { authorization: 'Basic s3cret' } })).statusCode).toBe(401);
  });

  it.each([
    ['good then bad', ['Bearer s3cret', 'Bearer wrong']],
    ['bad then good', ['Bearer wrong', 'Bearer s3cret']],
    ['good twice', ['Bearer s3cret', 'Bearer s3cret']],
  ])('answers 400 BAD_REQUEST to two Authorization headers (%s), whatever their order', async (_name, values) => {
    app = await appWith(authorize);
    // An array is the same header sent once per value (light-my-request mirrors Node's rawHeaders).
    const res = await app.inject({ url: '/v1/status', headers: { Authorization: values } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'BAD_REQUEST', message: 'more than one Authorization header' } });
  });

  it('leaves /healthz open and checks auth before the body (401, not 400)', async () => {
    app = await appWith(authorize);
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    const res = await app.inject({ method: 'POST', url: '/v1/backups', payload: { bogus: 1 } });
    expect(res.statusCode).toBe(401);
  });

  it('opens /metrics to loopback callers only', async () => {
    app = await appWith(authorize);
    expect((await app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/metrics', remoteAddress: '::1' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/metrics', remoteAddress: '10.1.2.3' })).statusCode).toBe(401);
    expect((await app.inject({ url: '/metrics', remoteAddress: '10.1.2.3', headers: bearer('s3cret') })).statusCode).toBe(200);
  });

  it('refuses a route that declares no resource (fails closed) and answers unknown routes 404 without a token', async () => {
    app = await appWith(authorize);
    const unlabelled = await app.inject({ url: '/v1/unlabelled', headers: bearer('s3cret') });
    expect(unlabelled.statusCode).toBe(500);
    expect(unlabelled.json<ErrBody>().error.code).toBe('INTERNAL');
    const missing = await app.inject({ url: '/v1/nothing-here' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<ErrBody>().error.code).toBe('NOT_FOUND');
  });
});

describe('auth.mode: none', () => {
  it('allows every route without a token', async () => {
    app = await appWith(allowAll);
    expect((await app.inject({ method: 'POST', url: '/v1/backups', payload: {} })).statusCode).toBe(202);
  });
});

describe('auth.mode: kubernetes', () => {
  const node = 'node-7';
  const users = { 'tok-alice': 'alice', 'tok-bob': 'bob' };
  const grants = ['alice create backups', 'alice list backups', 'alice get backups', 'alice delete backups', 'alice get status', 'alice create pullchecks'];

  function kubeApp(t = tableReviewer(users, grants), now?: () => number) {
    const authorize = createKubernetesAuthorizer({ reviewer: t.reviewer, audiences: ['node-ca'], nodeName: node, ...(now === undefined ? {} : { now }) });
    return appWith(authorize);
  }

  it.each([
    ['GET', '/v1/backups', 'list', 'backups'],
    ['POST', '/v1/backups', 'create', 'backups'],
    ['GET', '/v1/backups/abc', 'get', 'backups'],
    ['DELETE', '/v1/backups/abc', 'delete', 'backups'],
    ['GET', '/v1/backups/abc/archive', 'get', 'backups'],
    ['GET', '/v1/status', 'get', 'status'],
    ['POST', '/v1/pull-checks', 'create', 'pullchecks'],
  ])('%s %s asks a SubjectAccessReview for verb %s on %s, name = node name', async (method, url, verb, resource) => {
    const t = tableReviewer(users, grants);
    app = await kubeApp(t);
    const res = await app.inject({ method: method as 'GET', url, headers: bearer('tok-alice'), ...(method === 'POST' ? { payload: {} } : {}) });
    expect(res.statusCode).toBeLessThan(300);
    expect(t.calls.tokens).toEqual([{ token: 'tok-alice', audiences: ['node-ca'] }]);
    expect(t.calls.access).toEqual([
      { user: 'alice', uid: 'uid-alice', groups: ['system:authenticated'], extra: undefined, group: 'node-ca.alauda.io', resource, verb, name: node },
    ]);
  });

  it('answers 401 for a token the TokenReview does not authenticate, and asks no SubjectAccessReview', async () => {
    const t = tableReviewer(users, grants);
    app = await kubeApp(t);
    const res = await app.inject({ url: '/v1/status', headers: bearer('tok-mallory') });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('Bearer');
    expect(t.calls.access).toHaveLength(0);
  });

  it('answers 403 FORBIDDEN naming the user, verb, resource and node when the review denies', async () => {
    app = await kubeApp();
    const res = await app.inject({ method: 'POST', url: '/v1/backups', headers: bearer('tok-bob'), payload: {} });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({
      error: {
        code: 'FORBIDDEN',
        message: 'user "bob" may not create backups.node-ca.alauda.io "node-7"',
        group: 'node-ca.alauda.io',
        resource: 'backups',
        verb: 'create',
        name: 'node-7',
      },
    });
  });

  it('answers 503 AUTH_UNAVAILABLE when the API cannot be reached, without leaking the cause, and never caches it', async () => {
    const t = tableReviewer(users, grants);
    app = await kubeApp(t);
    t.setDown(true);
    const res = await app.inject({ url: '/v1/status', headers: bearer('tok-alice') });
    expect(res.statusCode).toBe(503);
    expect(res.json<ErrBody>().error.code).toBe('AUTH_UNAVAILABLE');
    expect(res.body).not.toContain('ECONNREFUSED');
    t.setDown(false);
    expect((await app.inject({ url: '/v1/status', headers: bearer('tok-alice') })).statusCode).toBe(200);
  });

  it('caches allowed answers 10 s and denied ones 5 s (by the injected clock)', async () => {
    let clock = 1_000_000;
    const t = tableReviewer(users, grants);
    app = await kubeApp(t, () => clock);
    const ask = (tok: string) => app!.inject({ url: '/v1/status', headers: bearer(tok) });
    expect((await ask('tok-alice')).statusCode).toBe(200);
    expect((await ask('tok-bob')).statusCode).toBe(403);
    expect((await ask('tok-alice')).statusCode).toBe(200);
    expect((await ask('tok-bob')).statusCode).toBe(403);
    expect(t.calls.tokens).toHaveLength(2);
    expect(t.calls.access).toHaveLength(2);
    clock += 6_000;
    await ask('tok-alice');
    await ask('tok-bob');
    expect(t.calls.access.map((a) => a.user)).toEqual(['alice', 'bob', 'bob']);
    clock += 5_000;
    await ask('tok-alice');
    expect(t.calls.access.map((a) => a.user)).toEqual(['alice', 'bob', 'bob', 'alice']);
  });

  it('keeps separate answers per verb for the same token', async () => {
    const t = tableReviewer(users, ['alice get backups']);
    app = await kubeApp(t);
    expect((await app.inject({ url: '/v1/backups/x', headers: bearer('tok-alice') })).statusCode).toBe(200);
    expect((await app.inject({ method: 'DELETE', url: '/v1/backups/x', headers: bearer('tok-alice') })).statusCode).toBe(403);
    expect(t.calls.tokens).toHaveLength(1);
  });
});

describe('pure helpers', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer   abc  ', 'abc'],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Basic abc', undefined],
    [undefined, undefined],
  ])('bearerToken(%j) = %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it.each([
    ['GET', 'backups', false, 'list'],
    ['GET', 'backups', true, 'get'],
    ['GET', 'status', false, 'get'],
    ['POST', 'pullchecks', false, 'create'],
    ['DELETE', 'backups', true, 'delete'],
  ] as const)('defaultVerb(%s, %s, params=%s) = %s', (method, resource, params, verb) => {
    expect(defaultVerb(method, resource, params)).toBe(verb);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    [undefined, false],
  ])('isLoopbackAddress(%j) = %j', (ip, loop) => {
    expect(isLoopbackAddress(ip)).toBe(loop);
  });
});
