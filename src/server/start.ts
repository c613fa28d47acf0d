import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { splitListen } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../lib/logger.js';
import { createApp } from './app.js';
import { allowAll, createAuthHook, createTokenAuthorizer, type AccessReviewer, type Authorizer } from './auth.js';
import { createKubernetesAuthorizer } from './auth-kubernetes.js';
import type { FileWatch } from './file-watch.js';
import { listenOnSocket } from './socket.js';
import { loadTlsFiles, type TlsMaterial } from './tls.js';
import { watchTlsFiles } from './tls-reload.js';
import { createTokenFile } from './token-file.js';

/** The agent's listeners: HTTPS on `server.listen` (authenticated) and the Unix socket (trusted by its mode). */
export interface Servers {
  readonly url: string | undefined;
  readonly socket: string | undefined;
  stop(): Promise<void>;
}

export interface ServerDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly routes: readonly FastifyPluginAsync[];
  /** TokenReview/SubjectAccessReview for `auth.mode: kubernetes`. */
  readonly reviewer?: AccessReviewer | undefined;
}

export async function startServers(deps: ServerDeps): Promise<Servers> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    const tcp = await startTcp(deps, stops);
    const socket = await startSocket(deps, stops);
    return { url: tcp, socket, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startTcp(deps: ServerDeps, stops: (() => Promise<void>)[]): Promise<string | undefined> {
  const { listen, tls } = deps.config.server;
  if (listen === '') return undefined;
  const addr = splitListen(listen);
  if (addr === undefined) throw new Error(`server.listen "${listen}" is not host:port`);
  const authorize = await createAuthorizer(deps, stops);
  const material = await tlsMaterial(deps.config);
  const https = material === undefined ? {} : { https: { https: material } };
  const app = await createApp({ logger: deps.logger, routes: deps.routes, onRequest: createAuthHook(authorize), ...https });
  stops.push(() => app.close());
  const bound = await app.listen({ host: addr.host, port: addr.port });
  if (tls.mode === 'files' && material !== undefined) {
    const watch = await reloadTls(app, tls, material, deps.logger);
    stops.push(() => watch.stop());
  }
  return tls.mode === 'disabled' ? bound : bound.replace(/^http:/, 'https:');
}

async function startSocket(deps: ServerDeps, stops: (() => Promise<void>)[]): Promise<string | undefined> {
  const { socket } = deps.config.server;
  if (socket === '') return undefined;
  // No auth hook: only root (the socket's owner, mode 0600) can connect.
  const app = await createApp({ logger: deps.logger, routes: deps.routes });
  stops.push(() => app.close());
  const listener = await listenOnSocket(app, socket);
  stops.push(() => listener.release());
  return listener.path;
}

async function createAuthorizer(deps: ServerDeps, stops: (() => Promise<void>)[]): Promise<Authorizer> {
  const { auth } = deps.config.server;
  if (auth.mode === 'none') return allowAll;
  if (auth.mode === 'token') {
    const secret = await createTokenFile(auth.tokenFile, deps.logger.child({ component: 'auth' }));
    stops.push(() => secret.stop());
    return createTokenAuthorizer(secret);
  }
  const reviewer = deps.reviewer ?? unavailableReviewer;
  return createKubernetesAuthorizer({ reviewer, audiences: auth.audiences, nodeName: deps.config.nodeName });
}

/** Until a Kubernetes client is wired, every review fails: 503, never allowed. */
const unavailableReviewer: AccessReviewer = {
  reviewToken: () => Promise.reject(new Error('no Kubernetes client configured')),
  reviewAccess: () => Promise.reject(new Error('no Kubernetes client configured')),
};

async function tlsMaterial(config: Config): Promise<TlsMaterial | undefined> {
  const tls = config.server.tls;
  if (tls.mode === 'disabled') return undefined;
  if (tls.mode === 'files') return loadTlsFiles(tls.certFile, tls.keyFile);
  const { createSelfSignedCertificate } = await import('./self-signed.js');
  return createSelfSignedCertificate([config.nodeName, config.nodeIP, config.podIP]);
}

function reloadTls(
  app: FastifyInstance,
  files: { certFile: string; keyFile: string },
  current: TlsMaterial,
  logger: Logger,
): Promise<FileWatch> {
  const server = app.server as unknown as HttpsServer;
  return watchTlsFiles({ ...files, current, logger: logger.child({ component: 'tls' }), apply: (m) => {
      server.setSecureContext(m);
    },
  });
}
