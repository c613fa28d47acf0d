import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A hung registry: a loopback listener that accepts connections and never
 * says a word, so the TLS handshake never gets an answer.
 */
export async function startHungListener(): Promise<{ host: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  };
  return { host: `127.0.0.1:${address.port}`, close };
}

/** A certs dir holding a ca.crt for `host`, as node-ca writes it. */
export async function certsDirFor(host: string, caPem: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'node-ca-probe-'));
  await mkdir(path.join(dir, host));
  await writeFile(path.join(dir, host, 'ca.crt'), caPem);
  return dir;
}
