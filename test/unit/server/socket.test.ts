import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { link, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/server/app.js';
import { listenOnSocket, removeStaleSocket } from '../../../src/server/socket.js';
import { quietLogger, v1LikeRoutes } from './routes-fixture.js';

let dir: string;
let app: FastifyInstance | undefined;
let other: Server | undefined;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-sock-'));
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  other?.close();
  other = undefined;
  await rm(dir, { recursive: true, force: true });
});

function getOverSocket(socketPath: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: urlPath }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function listenRaw(socketPath: string): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer(() => undefined);
    s.listen(socketPath, () => {
      resolve(s);
    });
  });
}

describe('listenOnSocket', () => {
  it('serves on a socket of mode 0600 and leaves no staging directory', async () => {
    const socketPath = path.join(dir, 'run', 'agent.sock');
    app = await createApp({ logger: quietLogger, routes: [v1LikeRoutes] });
    const listener = await listenOnSocket(app, socketPath);
    const st = await stat(socketPath);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(await readdir(path.dirname(socketPath))).toEqual(['agent.sock']);
    expect(await getOverSocket(socketPath, '/v1/status')).toEqual({ status: 200, body: '{"node":"n1"}' });
    await app.close();
    app = undefined;
    await listener.release();
    await expect(stat(socketPath)).rejects.toThrow(/ENOENT/);
  });

  it('replaces a stale socket left by a killed agent', async () => {
    const socketPath = path.join(dir, 'agent.sock');
    // Closing a server unlinks its path; a hard link keeps a socket nobody listens on (as kill -9 leaves).
    const dead = await listenRaw(path.join(dir, 'dead.sock'));
    await link(path.join(dir, 'dead.sock'), socketPath);
    await new Promise<void>((r) => {
      dead.close(() => {
        r();
      });
    });
    expect((await stat(socketPath)).isSocket()).toBe(true);
    app = await createApp({ logger: quietLogger, routes: [v1LikeRoutes] });
    await listenOnSocket(app, socketPath);
    expect((await getOverSocket(socketPath, '/healthz')).status).toBe(200);
  });

  it('refuses to replace a socket another process answers on', async () => {
    const socketPath = path.join(dir, 'agent.sock');
    other = await listenRaw(socketPath);
    await expect(removeStaleSocket(socketPath)).rejects.toThrow(/another process is listening/);
  });

  it('refuses to delete a regular file at the socket path', async () => {
    const socketPath = path.join(dir, 'agent.sock');
    await writeFile(socketPath, 'precious');
    await expect(removeStaleSocket(socketPath)).rejects.toThrow(/exists and is not a socket/);
  });
});
