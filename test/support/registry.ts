import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connect } from 'node:tls';
import { stringify } from 'yaml';
import { spawnDaemon, freePort, type Daemon } from './daemon.js';
import { issueServerCert, type KeyPairPem } from './pki.js';
import { waitFor } from './poll.js';

type Ca = Parameters<typeof issueServerCert>[0];

/** Credentials of the htpasswd-protected registries. */
export const registryUser = 'tester';
export const registryPassword = 's3cret-pass';
// bcrypt is the only scheme docker-registry's htpasswd accepts; this line was made once with
// `htpasswd -nbB -C 5 tester s3cret-pass` (apache2-utils), so tests need neither the tool nor a dep.
const htpasswdLine = 'tester:$2y$05$O4TeESidMGC7Y.8KK63bb.KNPyo1VBNzogycTj1zQTuiWdWj.MqZ.\n';

export interface TestRegistry {
  /** `name:port`, the host a reference and the certs.d directory use. */
  readonly host: string;
  readonly name: string;
  readonly port: number;
  readonly daemon: Daemon;
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  /** Working directory (config, certs, storage). */
  readonly dir: string;
  /** The DNS name it serves TLS for (mapped to 127.0.0.1 in a private /etc/hosts). */
  readonly name: string;
  /** CA that signs the server certificate. */
  readonly ca: Ca;
  /** Names in the server certificate (default: `[name]`); another name gives a hostname mismatch. */
  readonly certNames?: readonly string[];
  /** Validity of the server certificate (default: valid now), e.g. an expired one. */
  readonly certValidity?: { readonly notBefore: Date; readonly notAfter: Date };
  /** Require htpasswd basic auth (registryUser / registryPassword). */
  readonly htpasswd?: boolean;
}

/** Debian's docker-registry 2.8 on 127.0.0.1 with TLS, filesystem storage in `dir`. */
export async function startRegistry(options: StartRegistryOptions): Promise<TestRegistry> {
  const { dir, name } = options;
  await mkdir(path.join(dir, 'storage'), { recursive: true });
  const server: KeyPairPem = issueServerCert(
    options.ca,
    options.certNames ?? [name],
    options.certValidity ?? {},
  );
  await writeFile(path.join(dir, 'server.crt'), server.cert);
  await writeFile(path.join(dir, 'server.key'), server.key, { mode: 0o600 });
  const port = await freePort();
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn' },
    storage: {
      filesystem: { rootdirectory: path.join(dir, 'storage') },
      delete: { enabled: true },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      tls: { certificate: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') },
    },
  };
  if (options.htpasswd === true) {
    await writeFile(path.join(dir, 'htpasswd'), htpasswdLine);
    config.auth = { htpasswd: { realm: 'node-ca-test', path: path.join(dir, 'htpasswd') } };
  }
  await writeFile(path.join(dir, 'config.yml'), stringify(config));
  const daemon = spawnDaemon(['docker-registry', 'serve', path.join(dir, 'config.yml')]);
  await waitFor(() => tlsReady(port, options.certNames?.[0] ?? name), {
    timeoutMs: 20_000,
    message: `docker-registry on ${port} (${daemon.output.join('').slice(-500)})`,
  }).catch(async (err: unknown) => {
    await daemon.stop();
    throw err;
  });
  return { host: `${name}:${port}`, name, port, daemon, stop: () => daemon.stop() };
}

/** True once a TLS handshake on 127.0.0.1:port completes (certificate not checked: readiness only). */
function tlsReady(port: number, servername: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername, rejectUnauthorized: false },
      () => {
        socket.destroy();
        resolve(true);
      },
    );
    socket.on('error', () => {
      resolve(false);
    });
  });
}
