import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/lib/errors.js';

const env = { NODE_NAME: 'node-1' };

function problemsOf(server: unknown): string[] {
  try {
    parseConfig({ server }, env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return [...err.problems];
  }
}

describe('server configuration', () => {
  it.each([
    [{ listen: '0.0.0.0:9443', tls: { mode: 'disabled' } }, 'server.tls.mode: disabled is only allowed when server.listen is a loopback address'],
    [{ listen: '10.0.0.5:9443', auth: { mode: 'none' } }, 'server.auth.mode: none is only allowed when server.listen is a loopback address'],
    [{ listen: '[::]:9443', auth: { mode: 'none' } }, 'server.auth.mode: none is only allowed when server.listen is a loopback address'],
    [{ listen: 'node-1:9443', tls: { mode: 'disabled' }, auth: { mode: 'token', tokenFile: '/t' } }, 'server.tls.mode: disabled is only allowed when server.listen is a loopback address'],
    [{ listen: '9443' }, 'server.listen: "9443" is not host:port'],
  ])('refuses the insecure or malformed %j', (server, problem) => {
    expect(problemsOf(server)).toContain(problem);
  });

  it.each([
    [{ listen: '127.0.0.1:9443', tls: { mode: 'disabled' }, auth: { mode: 'none' } }],
    [{ listen: '[::1]:9443', tls: { mode: 'disabled' }, auth: { mode: 'none' } }],
    [{ listen: 'localhost:0', auth: { mode: 'none' } }],
    [{ listen: '', tls: { mode: 'disabled' }, auth: { mode: 'none' }, socket: '/run/x.sock' }],
    [{ listen: '0.0.0.0:9443', tls: { mode: 'files', certFile: '/c', keyFile: '/k' }, auth: { mode: 'token', tokenFile: '/t' } }],
  ])('accepts %j', (server) => {
    expect(problemsOf(server)).toEqual([]);
  });

  it.each([
    [{ tls: { mode: 'files', certFile: '/c' } }, 'server.tls.keyFile'],
    [{ auth: { mode: 'token' } }, 'server.auth.tokenFile'],
    [{ auth: { mode: 'kubernetes', audiences: 'x' } }, 'server.auth.audiences'],
    [{ auth: { mode: 'oidc' } }, 'server.auth.mode'],
    [{ tls: { mode: 'self-signed', certFile: '/c' } }, 'server.tls.certFile'],
  ])('names the key of a wrong server setting %j', (server, key) => {
    expect(problemsOf(server).join('\n')).toContain(key);
  });

  it('takes the pod IP from POD_IP and defaults to kubernetes auth, self-signed TLS', () => {
    const c = parseConfig({}, { ...env, POD_IP: ' 10.244.1.7 ' });
    expect(c.podIP).toBe('10.244.1.7');
    expect(c.server.auth).toEqual({ mode: 'kubernetes', audiences: [] });
    expect(c.server.tls).toEqual({ mode: 'self-signed' });
    expect(parseConfig({}, env).podIP).toBeUndefined();
  });
});
