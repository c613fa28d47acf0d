import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRegistryTls } from '../../../src/doctor/tls.js';
import { issueServerCert, makeCa } from '../../support/pki.js';

/* The TLS check against real sockets on 127.0.0.1: a TLS server, and a plain-HTTP one. */
const caA = makeCa('tls test CA A', { keyIndex: 0 });
const caB = makeCa('tls test CA B', { keyIndex: 2 });
const server = issueServerCert(caA, ['127.0.0.1']);
const caPath = '/etc/containerd/certs.d/127.0.0.1/ca.crt';
const restart =
  'kubectl -n registry-ops delete pod -l app.kubernetes.io/name=node-ca --field-selector spec.nodeName=n1';

const listen = async (s: Server) => {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(s.address() as AddressInfo).port}`;
};

describe('tls.handshake remedies', () => {
  const tls = createTlsServer({ cert: server.cert, key: server.key });
  const http = createNetServer((socket) => {
    socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
  });
  let tlsHost: string;
  let httpHost: string;
  beforeAll(async () => {
    tlsHost = await listen(tls);
    httpHost = await listen(http);
  });
  afterAll(() => {
    tls.close();
    http.close();
  });
  const now = new Date();

  it('passes with the CA that issued the server certificate', async () => {
    const rows = await checkRegistryTls(
      { host: tlsHost, ca: caA.cert, caPath, sourceCa: caA.cert },
      { now },
    );
    expect(rows[0]).toMatchObject({ id: 'tls.handshake', status: 'ok' });
  });

  it('when only the installed ca.crt drifted (the source verifies the server), says node-ca rewrites it', async () => {
    const [r] = await checkRegistryTls(
      { host: tlsHost, ca: caB.cert, caPath, sourceCa: caA.cert },
      { now, agentRestart: restart },
    );
    expect(r?.status).toBe('fail');
    expect(r?.message).toContain('the installed ca.crt differs from the source');
    expect(r?.remedy).toContain('next resync');
    expect(r?.remedy).toContain(restart);
    expect(r?.remedy).toContain('trust.files');
    expect(r?.remedy).not.toContain('put the CA that issued');
  });

  it('when the source does not verify the server either, asks for the issuing CA in the ConfigMap', async () => {
    const [r] = await checkRegistryTls(
      { host: tlsHost, ca: caB.cert, caPath, sourceCa: caB.cert },
      { now },
    );
    expect(r?.status).toBe('fail');
    expect(r?.remedy).toContain(
      'put the CA that issued the registry certificate into the CA ConfigMap',
    );
  });

  it('recognises a port that answers plain HTTP', async () => {
    const [r] = await checkRegistryTls({ host: httpHost, ca: caA.cert, caPath }, { now });
    expect(r?.status).toBe('fail');
    expect(r?.message).toContain('answered, but not with TLS');
    expect(r?.message).toContain('plain HTTP, or this is the wrong port');
    expect(r?.remedy).toContain('enable TLS on the registry, or fix the port');
    expect(r?.remedy).not.toContain('check the registry is up and listening');
  });

  it('still says "cannot connect" when nothing listens', async () => {
    const closed = createNetServer();
    const host = await listen(closed);
    await new Promise<void>((resolve) => {
      closed.close(() => {
        resolve();
      });
    });
    const [r] = await checkRegistryTls({ host, ca: caA.cert, caPath }, { now });
    expect(r?.message).toContain('cannot connect');
    expect(r?.message).toContain('ECONNREFUSED');
  });
});
