import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify as stringifyToml } from 'smol-toml';
import { demoBundles } from './sample-ca.js';

/**
 * Where the demo keeps what the agent would find under / on a node. Every
 * path the demo's configuration names is one of these, so the demo neither
 * reads nor advises changes to this machine's /etc, /run or /cpaas.
 */
export interface SandboxLayout {
  readonly root: string;
  /** The CA source: a plain directory, one file per key (no kubelet `..data` link). */
  readonly source: string;
  readonly containerd: string;
  /** A stand-in for /etc/containerd/config.toml, read only by doctor (`GET /v1/trust`). */
  readonly containerdConfig: string;
  /** Where pull checks look for containerd: nothing listens there. */
  readonly containerdSocket: string;
  readonly docker: string;
  readonly socket: string;
  /** A tiny stand-in for /cpaas/minio, so the backup API has something to archive. */
  readonly minio: string;
}

export function sandboxLayout(root: string): SandboxLayout {
  return {
    root,
    source: path.join(root, 'ca-bundle'),
    containerd: path.join(root, 'etc/containerd/certs.d'),
    containerdConfig: path.join(root, 'etc/containerd/config.toml'),
    containerdSocket: path.join(root, 'run/containerd/containerd.sock'),
    docker: path.join(root, 'etc/docker/certs.d'),
    socket: path.join(root, 'run/agent.sock'),
    minio: path.join(root, 'minio'),
  };
}

/** Fills `root` (which exists) with the sample CA source, the containerd config and the MinIO stand-in. */
export async function prepareSandbox(root: string): Promise<SandboxLayout> {
  const layout = sandboxLayout(root);
  await mkdir(layout.source, { recursive: true });
  for (const [key, pem] of demoBundles) await writeFile(path.join(layout.source, key), pem);
  await mkdir(path.dirname(layout.containerdConfig), { recursive: true });
  await writeFile(layout.containerdConfig, renderContainerdConfig(layout.containerd));
  const bucket = path.join(layout.minio, 'registry', 'docker', 'registry', 'v2');
  await mkdir(bucket, { recursive: true });
  await writeFile(path.join(bucket, 'xl.meta'), 'demo object metadata\n');
  await mkdir(path.join(layout.minio, '.minio.sys'), { recursive: true });
  await writeFile(path.join(layout.minio, '.minio.sys', 'format.json'), '{"version":"1"}\n');
  return layout;
}

/**
 * A containerd config whose CRI registry reads `certsDir`. Version 2: the
 * layout containerd 1.6/1.7 reads as is and 2.x migrates, so doctor's check
 * passes whichever `containerd --version` (if any) it finds on this machine;
 * a version 3 file is read by 1.x as having no config_path.
 */
export function renderContainerdConfig(certsDir: string): string {
  const doc = { version: 2, plugins: { 'io.containerd.grpc.v1.cri': { registry: { config_path: certsDir } } } };
  return `# node-ca demo: stands in for /etc/containerd/config.toml; no containerd reads it.\n${stringifyToml(doc)}\n`;
}

/** The agent's configuration for the demo: plain HTTP on 127.0.0.1, every path in the sandbox. */
export function demoConfig(l: SandboxLayout, port: number): unknown {
  return {
    trust: {
      sourceDir: l.source,
      containerdCertsDir: l.containerd,
      dockerCertsDir: l.docker,
      containerdConfig: l.containerdConfig,
      resyncSeconds: 30,
    },
    hosts: { file: '' },
    server: { listen: `127.0.0.1:${String(port)}`, tls: { mode: 'disabled' }, auth: { mode: 'none' }, socket: l.socket },
    backup: { dir: path.join(l.root, 'backup'), stateDir: path.join(l.root, 'state'), sources: { minio: l.minio } },
    // Pull checks would otherwise pull into this machine's containerd (k8s.io namespace).
    pull: { address: l.containerdSocket, hostsDir: l.containerd },
  };
}

/** `--port`: an integer 0–65535 in decimal (0: a free port); undefined for anything else. */
export function parseDemoPort(value: string): number | undefined {
  if (!/^\d{1,5}$/.test(value)) return undefined;
  const port = Number(value);
  return port <= 65535 ? port : undefined;
}
