import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { createTokenAuthorizer } from '../../../src/server/auth.js';
import { clientErrorResponse } from '../../../src/server/errors.js';
import { appWith } from './routes-fixture.js';

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const secret = 'tok-SECRET-4711';

/** Writes raw bytes to the listener and reads until the server closes the connection. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (c: Buffer) => {
      answer += c.toString('latin1');
    });
    socket.on('close', () => {
      resolve(answer);
    });
    // The server may close while we still write (header overflow): the answer is what counts.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    socket.setTimeout(5000, () => {
      socket.destroy(new Error('no answer within 5 s'));
    });
    socket.write(bytes);
  });
}

function parse(answer: string) {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  const [statusLine = '', ...headers] = head.split('\r\n');
  const lower = headers.map((h) => h.toLowerCase());
  return { status: Number(statusLine.split(' ')[1]), headers: lower, body };
}

async function listening(): Promise<number> {
  app = await appWith(createTokenAuthorizer({ matches: (t) => t === secret }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

describe('requests the HTTP parser refuses', () => {
  it.each([
    ['headers over 16 KiB', `GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\nX-Pad: ${'p'.repeat(17 * 1024)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    ['a malformed request line', `GET /v1/status?${secret} HTTP/1.1 junk\r\nHost: x\r\n\r\n`, 400, 'BAD_REQUEST'],
    ['a method that is no token', `G@T /v1/status HTTP/1.1\r\nHost: x\r\n\r\n`, 400, 'BAD_REQUEST'],
    ['Content-Length: abc', `POST /v1/backups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\nContent-Length: abc\r\n\r\n{}`, 400, 'BAD_REQUEST'],
  ])('%s → %i %s in the SPEC shape, Connection: close, nothing echoed', async (_name, bytes, status, code) => {
    const port = await listening();
    const answer = parse(await rawExchange(port, bytes));
    expect(answer.status).toBe(status);
    expect(answer.headers).toContain('connection: close');
    expect(answer.headers).toContain('content-type: application/json; charset=utf-8');
    const body = JSON.parse(answer.body) as { error: { code: string; message: string } };
    expect(body).toEqual({ error: { code, message: body.error.message } });
    expect(answer.body).not.toContain('SECRET');
    expect(answer.body).not.toContain('/v1/');
  });

  it('keeps serving well-formed requests on other connections', async () => {
    const port = await listening();
    await rawExchange(port, 'BOGUS\r\n\r\n');
    const ok = parse(await rawExchange(port, `GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${secret}\r\nConnection: close\r\n\r\n`));
    expect(ok.status).toBe(200);
  });
});

describe('two Authorization headers on a real connection', () => {
  it.each([
    ['good then bad', secret, 'wrong'],
    ['bad then good', 'wrong', secret],
  ])('answer 400 BAD_REQUEST (%s)', async (_name, first, second) => {
    const port = await listening();
    const request = `GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${first}\r\nauthorization: Bearer ${second}\r\nConnection: close\r\n\r\n`;
    const answer = parse(await rawExchange(port, request));
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'BAD_REQUEST', message: 'more than one Authorization header' } });
  });
});

describe('clientErrorResponse', () => {
  it('writes a complete HTTP/1.1 answer whose Content-Length is the body', () => {
    const text = clientErrorResponse('HPE_INVALID_METHOD');
    const [head = '', body = ''] = text.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toEqual({ error: { code: 'BAD_REQUEST', message: 'malformed HTTP request (HPE_INVALID_METHOD)' } });
  });

  it.each([
    ['HPE_HEADER_OVERFLOW', 'HTTP/1.1 431 Request Header Fields Too Large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 'HTTP/1.1 408 Request Timeout'],
    ['weird code\r\nX: y', 'HTTP/1.1 400 Bad Request'],
  ])('%j → %s', (code, statusLine) => {
    const text = clientErrorResponse(code);
    expect(text.split('\r\n')[0]).toBe(statusLine);
    expect(text).not.toContain('X: y');
  });
});
