import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/lib/logger.js';
import { createApp } from '../../../src/server/app.js';
import { createKubernetesAuthorizer } from '../../../src/server/auth-kubernetes.js';
import { createTokenAuthorizer } from '../../../src/server/auth.js';
import { healthRoutes } from '../../../src/server/routes/health.js';
import { waitFor } from '../../support/poll.js';
import { appWith } from './routes-fixture.js';

type Line = Record<string, unknown>;

/** A JSON sink: every log line the app writes, as text (`lines`) and parsed (`parsed()`). */
function jsonSink(level = 'trace') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const parsed = () => lines.map((l) => JSON.parse(l) as Line);
  return { lines, parsed, logger: createLogger({ level, destination: stream }) };
}

const pino = { debug: 20, info: 30, warn: 40, error: 50 } as const;

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const secret = 'tok-VERY-SECRET-4711';

describe('request logs', () => {
  it('never contain the bearer token, in any auth mode, allowed or refused', async () => {
    const sink = jsonSink();
    const token = createTokenAuthorizer({ matches: (t) => t === secret });
    const down = createKubernetesAuthorizer({
      reviewer: { reviewToken: (t) => Promise.reject(new Error(`HTTP-Code: 500 Body: {"spec":{"token":"${t}"}}`)), reviewAccess: () => Promise.reject(new Error('down')) },
      audiences: [],
      nodeName: 'n1',
    });
    for (const authorize of [token, down]) {
      const app = await appWith(authorize, sink.logger);
      for (const auth of [`Bearer ${secret}`, `Bearer ${secret}x`, `Basic ${secret}`]) {
        await app.inject({ url: '/v1/status', headers: { authorization: auth } });
        await app.inject({ method: 'POST', url: '/v1/backups', headers: { authorization: auth }, payload: '{bad' });
        // A token in the query string: refused (400 or 401), and the query is never logged.
        await app.inject({ url: `/v1/status?access_token=${secret}`, headers: { authorization: auth } });
      }
      await app.close();
    }
    const parsed = sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.filter((l) => l.msg === 'request completed').length).toBe(18);
    expect(parsed.some((l) => l.msg === 'request authorized')).toBe(true);
    expect(parsed.some((l) => l.code === 'AUTH_UNAVAILABLE' && l.url === '/v1/status')).toBe(true);
    for (const line of sink.lines) expect(line).not.toContain(secret);
  });

  it('redacts an authorization header that is logged explicitly', () => {
    const sink = jsonSink();
    sink.logger.info({ req: { headers: { authorization: `Bearer ${secret}` } }, token: secret }, 'x');
    sink.logger.flush();
    expect(sink.lines.join('\n')).not.toContain(secret);
    expect(JSON.parse(sink.lines[0]!)).toMatchObject({ req: { headers: { authorization: '[redacted]' } }, token: '[redacted]' });
  });
});

describe('one line per request', () => {
  it('is written when the answer is sent, with method, path, route, status, time, caller and request id', async () => {
    const sink = jsonSink('info');
    app = await appWith(createTokenAuthorizer({ matches: (t) => t === secret }), sink.logger);
    const res = await app.inject({ url: '/v1/backups/job-7', headers: { authorization: `Bearer ${secret}` }, remoteAddress: '10.1.2.3' });
    expect(res.statusCode).toBe(200);
    const lines = sink.parsed();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: pino.info,
      component: 'http',
      msg: 'request completed',
      method: 'GET',
      url: '/v1/backups/job-7',
      route: '/v1/backups/:id',
      statusCode: 200,
      remoteAddress: '10.1.2.3',
      reqId: expect.any(String) as unknown,
      responseTime: expect.any(Number) as unknown,
    });
    expect(lines[0]).not.toHaveProperty('req');
    expect(lines[0]).not.toHaveProperty('res');
  });

  // Kubelet probes and node-local scrapes (from 127.0.0.1, so /metrics needs no token here).
  it.each([
    ['GET /healthz', 200, pino.debug, { url: '/healthz' }],
    ['HEAD /healthz', 200, pino.debug, { method: 'HEAD', url: '/healthz' }],
    ['GET /healthz/', 200, pino.debug, { url: '/healthz/' }],
    ['GET /metrics from loopback', 200, pino.debug, { url: '/metrics' }],
    ['GET /healthz?verbose', 400, pino.info, { url: '/healthz?verbose' }],
    ['GET /metrics from another pod without a token', 401, pino.info, { url: '/metrics', remoteAddress: '10.1.2.3' }],
    ['GET /v1/status', 200, pino.info, { url: '/v1/status', headers: { authorization: `Bearer ${secret}` } }],
    ['GET /v1/status without a token', 401, pino.info, { url: '/v1/status' }],
    ['GET /v1/missing (a NodeCaError below 500)', 404, pino.info, { url: '/v1/missing', headers: { authorization: `Bearer ${secret}` } }],
    ['GET /v2/nothing (no route)', 404, pino.info, { url: '/v2/nothing' }],
    ['GET /v1/backups/%FF (a router error)', 400, pino.info, { url: '/v1/backups/%FF' }],
    ['GET /v1/backups/a…a (a router error: parameter too long)', 414, pino.info, { url: `/v1/backups/${'a'.repeat(101)}` }],
    ['GET /v1/boom (an unexpected error)', 500, pino.error, { url: '/v1/boom', headers: { authorization: `Bearer ${secret}` } }],
  ] as const)('%s: answered %i, logged once at level %i', async (_name, status, level, request) => {
    const sink = jsonSink('debug');
    app = await appWith(createTokenAuthorizer({ matches: (t) => t === secret }), sink.logger);
    expect((await app.inject(request)).statusCode).toBe(status);
    const lines = sink.parsed().filter((l) => l.msg !== 'incoming request' && l.msg !== 'request authorized');
    expect(lines).toEqual([expect.objectContaining({ msg: 'request completed', level, statusCode: status })]);
  });

  it('writes nothing at info for 20 successful probes and scrapes', async () => {
    const sink = jsonSink('info');
    app = await appWith(createTokenAuthorizer({ matches: () => false }), sink.logger);
    for (let i = 0; i < 10; i++) {
      expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/metrics' })).statusCode).toBe(200);
    }
    expect(sink.lines).toEqual([]);
  });

  it('puts an unexpected error on the request line (error level, with its stack) instead of a line of its own', async () => {
    const sink = jsonSink('debug');
    app = await appWith(undefined, sink.logger);
    expect((await app.inject({ url: '/v1/boom?x=1' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/v1/boom' })).statusCode).toBe(500);
    const failed = sink.parsed().filter((l) => (l.level as number) >= pino.warn);
    expect(failed).toEqual([
      expect.objectContaining({ msg: 'request completed', url: '/v1/boom', statusCode: 500, reason: 'unexpected error' }),
    ]);
    expect(failed[0]).toMatchObject({ level: pino.error, err: { message: expect.stringContaining('EACCES') as unknown, stack: expect.any(String) as unknown } });
  });

  it('puts a known 5xx (AUTH_UNAVAILABLE) on the request line at warn, with its code and scrubbed cause', async () => {
    const sink = jsonSink('info');
    const down = createKubernetesAuthorizer({
      reviewer: { reviewToken: (t) => Promise.reject(new Error(`connect ECONNREFUSED, token ${t}`)), reviewAccess: () => Promise.reject(new Error('down')) },
      audiences: [],
      nodeName: 'n1',
    });
    app = await appWith(down, sink.logger);
    expect((await app.inject({ url: '/v1/status', headers: { authorization: `Bearer ${secret}` } })).statusCode).toBe(503);
    expect(sink.parsed()).toEqual([
      expect.objectContaining({
        level: pino.warn,
        msg: 'request completed',
        statusCode: 503,
        code: 'AUTH_UNAVAILABLE',
        reason: 'cannot review the request with the Kubernetes API; try again later',
        err: expect.objectContaining({ message: 'connect ECONNREFUSED, token [redacted]' }) as unknown,
      }),
    ]);
  });

  it('logs a failing readiness probe (503) at warn, a passing one at debug', async () => {
    const sink = jsonSink('debug');
    let ready = false;
    app = await createApp({ logger: sink.logger, routes: [healthRoutes({ isReady: () => ready })] });
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    ready = true;
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
    const completed = sink.parsed().filter((l) => l.msg === 'request completed');
    expect(completed.map((l) => [l.statusCode, l.level])).toEqual([
      [503, pino.warn],
      [200, pino.debug],
    ]);
  });
});

describe('a caller that hangs up before the answer', () => {
  /** `/v1/slow` waits for the test, then fails: an error the error handler meets after the caller left. */
  function slowRoute(entered: () => void, gate: Promise<void>): FastifyPluginAsync {
    return (instance) => {
      instance.get('/v1/slow', { config: { resource: 'status' } }, async () => {
        entered();
        await gate;
        throw new Error('failed after the caller left');
      });
      return Promise.resolve();
    };
  }

  it('gets a "request aborted" line, and an error met afterwards still gets a line of its own', async () => {
    const sink = jsonSink('info');
    const arrived = Promise.withResolvers<undefined>();
    const gate = Promise.withResolvers<undefined>();
    const entered = () => {
      arrived.resolve(undefined);
    };
    app = await createApp({ logger: sink.logger, routes: [slowRoute(entered, gate.promise)] });
    const port = new URL(await app.listen({ host: '127.0.0.1', port: 0 })).port;
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/slow' });
    req.on('error', () => undefined);
    req.end();
    await arrived.promise;
    req.destroy();
    await waitFor(() => sink.parsed().some((l) => l.msg === 'request aborted'), { message: 'the aborted line' });
    gate.resolve(undefined);
    await waitFor(() => sink.parsed().some((l) => l.msg === 'unexpected error'), { message: 'the late error line' });
    expect(sink.parsed().filter((l) => l.reqId !== undefined)).toEqual([
      expect.objectContaining({ level: pino.info, msg: 'request aborted', aborted: true, method: 'GET', url: '/v1/slow', route: '/v1/slow' }),
      expect.objectContaining({ level: pino.error, msg: 'unexpected error', url: '/v1/slow', err: expect.objectContaining({ message: 'failed after the caller left' }) as unknown }),
    ]);
  });
});
