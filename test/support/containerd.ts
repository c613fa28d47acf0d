import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { spawnDaemon, type Daemon } from './daemon.js';
import { waitFor } from './poll.js';

export interface TestContainerd {
  readonly socket: string;
  readonly namespace: string;
  /** The hosts dir named by the CRI `registry.config_path` in its config. */
  readonly configPath: string;
  readonly configFile: string;
  readonly daemon: Daemon;
  /** `ctr -a SOCKET -n NAMESPACE ...args`, optionally behind a prefix (the private resolver). */
  ctr(args: readonly string[], options?: { prefix?: readonly string[]; timeoutMs?: number }): Promise<CtrResult>;
  stop(): Promise<void>;
}

export interface CtrResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A private containerd 1.6 (own root, state, sockets under `dir`), config
 * version 2 with the CRI `config_path` set as on a node; the CRI plugin itself
 * is disabled (it wants a CNI setup and is not needed by ctr).
 */
export async function startContainerd(options: { dir: string; configPath?: string; namespace?: string }): Promise<TestContainerd> {
  const { dir } = options;
  const configPath = options.configPath ?? path.join(dir, 'certs.d');
  await mkdir(configPath, { recursive: true });
  const socket = path.join(dir, 'containerd.sock');
  const configFile = path.join(dir, 'config.toml');
  await writeFile(
    configFile,
    [
      'version = 2',
      `root = ${JSON.stringify(path.join(dir, 'root'))}`,
      `state = ${JSON.stringify(path.join(dir, 'state'))}`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = ${JSON.stringify(socket)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${socket}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.grpc.v1.cri".registry]',
      `  config_path = ${JSON.stringify(configPath)}`,
      '',
    ].join('\n'),
  );
  const daemon = spawnDaemon(['containerd', '--config', configFile, '--log-level', 'warn']);
  const namespace = options.namespace ?? 'test';
  const ctr: TestContainerd['ctr'] = async (args, o = {}) => {
    const argv = [...(o.prefix ?? []), 'ctr', '-a', socket, '-n', namespace, ...args];
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, timeout: o.timeoutMs ?? 60_000 });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  await waitFor(async () => (await ctr(['version'], { timeoutMs: 5000 })).exitCode === 0, {
    timeoutMs: 20_000,
    message: `containerd at ${socket} (${daemon.output.join('').slice(-500)})`,
  }).catch(async (err: unknown) => {
    await daemon.stop();
    throw err;
  });
  return { socket, namespace, configPath, configFile, daemon, ctr, stop: () => daemon.stop() };
}

/**
 * Imports an OCI archive into the store and pushes it to `target` (a full
 * reference), trusting `caFile`; `prefix` maps the registry name.
 */
export async function pushImage(
  containerd: TestContainerd,
  options: { archive: string; ref: string; target: string; caFile: string; prefix: readonly string[]; user?: string },
): Promise<void> {
  const imported = await containerd.ctr(['images', 'import', '--no-unpack', options.archive]);
  if (imported.exitCode !== 0) throw new Error(`ctr images import: ${imported.stderr}`);
  if (options.ref !== options.target) {
    const tagged = await containerd.ctr(['images', 'tag', '--force', options.ref, options.target]);
    if (tagged.exitCode !== 0) throw new Error(`ctr images tag: ${tagged.stderr}`);
  }
  const auth = options.user === undefined ? [] : ['--user', options.user];
  const pushed = await containerd.ctr(['images', 'push', '--tlscacert', options.caFile, ...auth, options.target], {
    prefix: options.prefix,
  });
  if (pushed.exitCode !== 0) throw new Error(`ctr images push ${options.target}: ${pushed.stderr}`);
}
