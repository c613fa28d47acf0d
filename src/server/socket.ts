import { chmod, lstat, mkdir, mkdtemp, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { errnoCode } from '../lib/errors.js';

/** A listening socket; `release` removes its path if it is still ours. */
export interface SocketListener {
  readonly path: string;
  release(): Promise<void>;
}

/**
 * Listens on a Unix socket that is never reachable with wider permissions
 * than 0600: requests on it are trusted without a token, so a window where
 * bind(2) has made it with the umask's mode would be a hole. We bind inside
 * a fresh 0700 directory (mkdtemp), chmod, then rename into place. The
 * process umask is left alone (other modules write files meanwhile).
 */
export async function listenOnSocket(app: FastifyInstance, socketPath: string): Promise<SocketListener> {
  const dir = path.dirname(path.resolve(socketPath));
  await mkdir(dir, { recursive: true });
  await removeStaleSocket(socketPath);
  const staging = await mkdtemp(path.join(dir, '.node-ca-'));
  const bound = path.join(staging, 's');
  try {
    await app.listen({ path: bound });
    await chmod(bound, 0o600);
    await rename(bound, socketPath);
  } finally {
    await rmdir(staging).catch(() => undefined);
  }
  const { ino } = await stat(socketPath);
  return {
    path: socketPath,
    async release() {
      // libuv unlinks the path it bound (the staging one) on close; the
      // renamed path is ours to remove, unless a newer agent replaced it.
      const now = await stat(socketPath).catch(() => undefined);
      if (now?.ino === ino) await unlink(socketPath).catch(() => undefined);
    },
  };
}

/**
 * A socket left by a killed agent is removed; a live one (something answers
 * a connect) or a non-socket file at the path is an error, never deleted.
 */
export async function removeStaleSocket(socketPath: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(socketPath)).isSocket();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw new Error(`server.socket: ${socketPath} exists and is not a socket; refusing to replace it`);
  if (await answers(socketPath)) throw new Error(`server.socket: another process is listening on ${socketPath}`);
  await unlink(socketPath).catch((err: unknown) => {
    if (errnoCode(err) !== 'ENOENT') throw err;
  });
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect({ path: socketPath });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      resolve(false);
    });
  });
}
