import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/lib/logger.js';
import { createKubernetesAuthorizer } from '../../../src/server/auth-kubernetes.js';
import { createTokenAuthorizer } from '../../../src/server/auth.js';
import { appWith } from './routes-fixture.js';

/** A JSON sink: every log line the app writes, parsed. */
function jsonSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'trace', destination: stream }) };
}

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
      }
      await app.close();
    }
    const parsed = sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.filter((l) => l.msg === 'incoming request').length).toBeGreaterThanOrEqual(12);
    expect(parsed.some((l) => l.msg === 'request authorized')).toBe(true);
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
