import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { cliPath, startAgentProcess, type AgentProcess } from './agent.js';
import { startKubeApiDouble, type KubeApiDouble } from './kube-api-double.js';
import { createProjectedConfigMap } from './kubelet.js';
import { issueServerCert, makeCa } from './pki.js';
import { waitFor } from './poll.js';

export const fleetNamespace = 'image-registry-system';
export const callerUser = 'system:serviceaccount:cpaas-system:registry-cleanup';

export interface FleetNode {
  readonly name: string;
  readonly dir: string;
  readonly sourceDir: string;
  readonly backupDir: string;
  readonly caSource: ReturnType<typeof createProjectedConfigMap>;
  agent: AgentProcess | undefined;
  port: number | undefined;
  /** With `gateTar`: lets the held tar run. */
  openTarGate: (() => Promise<void>) | undefined;
}

export interface NodeSpec {
  readonly name: string;
  readonly labels?: Record<string, string>;
  /** Start an agent (default true); its pod is then Ready on this node. */
  readonly agent?: boolean;
  /** Extra agent configuration merged over the defaults. */
  readonly config?: Record<string, unknown>;
  /** The agent's tar waits for `openTarGate()`: a backup held in Running, deterministically. */
  readonly gateTar?: boolean;
  /** Extra environment for the agent process (e.g. PATH with fixture runtimes). */
  readonly env?: Record<string, string>;
}

/** A kube-apiserver double, Nodes, and one real agent process per node with its Pod pointing at it. */
export interface FleetCluster {
  readonly api: KubeApiDouble;
  readonly root: string;
  /** The CA of the agents' certificate in `files` mode (for --ca-file). */
  readonly caFile: string;
  readonly nodes: Map<string, FleetNode>;
  addNode(spec: NodeSpec, caBundle: Record<string, string>): Promise<FleetNode>;
  /** Publishes (or replaces) a node's agent Pod. */
  setPod(node: string, pod: { ready: boolean; port: number | undefined; name?: string }): void;
  /** Lets the caller do `verbs` on `resource` for the named nodes (all nodes when absent). */
  allow(resource: string, verbs: readonly string[], nodes?: readonly string[]): void;
  runFleet(args: readonly string[], options?: FleetRunOptions): Promise<FleetRun>;
  /** Starts `node-ca fleet ARGS` as a process; `stderrLines` fills as it runs. */
  startFleet(args: readonly string[], options?: FleetRunOptions): RunningFleet;
  close(): Promise<void>;
}

export interface FleetRunOptions {
  /** Another kubeconfig than the double's own. */
  readonly kubeconfig?: string;
}

export interface RunningFleet {
  readonly child: ChildProcess;
  readonly stderrLines: string[];
  readonly result: Promise<FleetRun>;
}

export interface FleetRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** GET /readyz (no token needed) on the self-signed agent: true on 200. */
function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsGet(
      { host: '127.0.0.1', port, path: '/readyz', rejectUnauthorized: false },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on('error', () => {
      resolve(false);
    });
  });
}

/** The CA ConfigMap key of the registry the fleet tests' agents trust. */
export const registryKey = 'image-registry.image-registry-system.svc..5000';
/** Node labels of a control-plane node (what `fleet backup` selects by default). */
export const controlPlane = { 'node-role.kubernetes.io/control-plane': '' };

/** A fresh cluster and a one-key CA bundle for its agents: a fleet test's usual start. */
export async function startFleetWithBundle(): Promise<{ cluster: FleetCluster; bundle: Record<string, string> }> {
  return { cluster: await startFleetCluster(), bundle: { [registryKey]: makeCa('registry-ca').cert } };
}

/**
 * `files` (default): every agent serves one certificate issued for 127.0.0.1
 * by `caPem` (SPEC `tls.mode: files`), cheap to start on a loaded machine;
 * `self-signed`: each agent makes its own (a 2048-bit RSA key per start).
 */
export async function startFleetCluster(
  options: { tls?: 'files' | 'self-signed' } = {},
): Promise<FleetCluster> {
  const api = await startKubeApiDouble();
  api.tokens.set(api.token, { username: callerUser });
  const root = await mkdtemp(path.join(tmpdir(), 'node-ca-fleet-'));
  const ca = makeCa('fleet-agents-ca');
  const serverCert = issueServerCert(ca, ['127.0.0.1', 'localhost']);
  const caFile = path.join(root, 'agents-ca.crt');
  await writeFile(caFile, ca.cert);
  await writeFile(path.join(root, 'agent.crt'), serverCert.cert);
  await writeFile(path.join(root, 'agent.key'), serverCert.key, { mode: 0o600 });
  const tls =
    options.tls === 'self-signed'
      ? { mode: 'self-signed' }
      : {
          mode: 'files',
          certFile: path.join(root, 'agent.crt'),
          keyFile: path.join(root, 'agent.key'),
        };
  const nodes = new Map<string, FleetNode>();
  const children = new Set<ReturnType<typeof spawn>>();

  function setPod(
    node: string,
    pod: { ready: boolean; port: number | undefined; name?: string },
  ): void {
    api.apply('pods', {
      metadata: {
        namespace: fleetNamespace,
        name: pod.name ?? `node-ca-${node}`,
        labels: { 'app.kubernetes.io/name': 'node-ca' },
      },
      spec: {
        nodeName: node,
        containers: [
          {
            name: 'agent',
            ports: pod.port === undefined ? [] : [{ name: 'api', containerPort: pod.port }],
          },
        ],
      },
      status: {
        podIP: '127.0.0.1',
        phase: 'Running',
        conditions: [{ type: 'Ready', status: pod.ready ? 'True' : 'False' }],
      },
    });
  }

  async function addNode(spec: NodeSpec, caBundle: Record<string, string>): Promise<FleetNode> {
    const dir = path.join(root, spec.name);
    const node: FleetNode = {
      name: spec.name,
      dir,
      sourceDir: path.join(dir, 'cpaas', 'minio'),
      backupDir: path.join(dir, 'backup'),
      caSource: createProjectedConfigMap(path.join(dir, 'ca-bundle')),
      agent: undefined,
      port: undefined,
      openTarGate: undefined,
    };
    await mkdir(node.sourceDir, { recursive: true });
    await node.caSource.write(caBundle);
    api.apply('nodes', { metadata: { name: spec.name, labels: spec.labels ?? {} } });
    nodes.set(spec.name, node);
    if (spec.agent === false) return node;
    const gate = spec.gateTar === true ? await gateTar(node) : undefined;
    node.openTarGate = gate?.open;
    node.agent = await startAgentProcess({
      config: {
        nodeName: spec.name,
        kubeconfig: api.kubeconfigPath,
        trust: {
          sourceDir: node.caSource.dir,
          containerdCertsDir: path.join(dir, 'certs.d'),
          dockerCertsDir: '',
        },
        hosts: { file: '' },
        server: { listen: '127.0.0.1:0', tls, auth: { mode: 'kubernetes' }, socket: '' },
        backup: {
          sources: { minio: node.sourceDir },
          dir: node.backupDir,
          stateDir: path.join(dir, 'state'),
          minFreePercent: 0,
        },
        ...spec.config,
      },
      env: { NODE_NAME: spec.name, ...spec.env, ...gate?.env },
    });
    node.port = Number(new URL(node.agent.url ?? 'https://x:0').port);
    await waitFor(() => readyz(node.port ?? 0), {
      timeoutMs: 20_000,
      message: `agent ${spec.name} ready`,
    });
    setPod(spec.name, { ready: true, port: node.port });
    return node;
  }

  function allow(resource: string, verbs: readonly string[], only?: readonly string[]): void {
    for (const verb of verbs) {
      if (only === undefined)
        api.accessRules.push({ user: callerUser, resource, verb, group: 'node-ca.alauda.io' });
      else
        for (const name of only)
          api.accessRules.push({
            user: callerUser,
            resource,
            verb,
            name,
            group: 'node-ca.alauda.io',
          });
    }
  }

  function startFleet(args: readonly string[], options: FleetRunOptions = {}): RunningFleet {
    const child = spawn(
      process.execPath,
      [cliPath, 'fleet', ...args, '--kubeconfig', options.kubeconfig ?? api.kubeconfigPath],
      {
        env: { PATH: process.env.PATH ?? '', HOME: root },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.add(child);
    let stdout = '';
    let stderr = '';
    const stderrLines: string[] = [];
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    createInterface({ input: child.stderr }).on('line', (line) => stderrLines.push(line));
    const result = new Promise<FleetRun>((resolve) =>
      child.on('close', (code) => {
        children.delete(child);
        resolve({ code, stdout, stderr });
      }),
    );
    return { child, stderrLines, result };
  }

  const runFleet = (args: readonly string[], options?: FleetRunOptions) =>
    startFleet(args, options).result;

  /** A `tar` wrapper on the agent's PATH that waits for `<node dir>/tar-gate` before running the real tar. */
  async function gateTar(
    node: Pick<FleetNode, 'dir'>,
  ): Promise<{ env: Record<string, string>; open: () => Promise<void> }> {
    const bin = path.join(node.dir, 'bin');
    await mkdir(bin, { recursive: true });
    const gate = path.join(node.dir, 'tar-gate');
    const realTar =
      (process.env.PATH ?? '')
        .split(':')
        .map((d) => path.join(d, 'tar'))
        .find((f) => existsSync(f)) ?? '/usr/bin/tar';
    await writeFile(
      path.join(bin, 'tar'),
      `#!/bin/sh\nwhile [ ! -e '${gate}' ]; do sleep 0.05; done\nexec '${realTar}' "$@"\n`,
      { mode: 0o755 },
    );
    return { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, open: () => writeFile(gate, '') };
  }

  return {
    api,
    root,
    caFile,
    nodes,
    addNode,
    setPod,
    allow,
    runFleet,
    startFleet,
    async close() {
      for (const c of children) c.kill('SIGKILL');
      await Promise.all(
        [...nodes.values()].flatMap((n) => (n.agent === undefined ? [] : [n.agent.stop()])),
      );
      await api.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** `node-ca fleet backup --json` as the tests read it. */
export interface FleetBackupDoc {
  ok: boolean;
  selector: string;
  failedNodes: string[];
  nodes: {
    node: string;
    ok: boolean;
    error?: { code: string; message: string; status?: number };
    job?: {
      id: string;
      phase: string;
      startTime: string;
      completionTime?: string;
      archivePath: string;
      archive?: { sha256: string };
    };
    download?: { archive: string; sha256: string; reused: boolean };
  }[];
}

/** A MinIO-like data directory: a bucket, objects, the .minio.sys metadata. */
export async function fillMinioSource(node: FleetNode): Promise<void> {
  const bucket = path.join(node.sourceDir, 'registry', 'docker', 'registry', 'v2', 'blobs');
  await mkdir(bucket, { recursive: true });
  await mkdir(path.join(node.sourceDir, '.minio.sys'), { recursive: true });
  await writeFile(
    path.join(node.sourceDir, '.minio.sys', 'format.json'),
    `{"node":"${node.name}"}`,
  );
  for (let i = 0; i < 20; i++)
    await writeFile(
      path.join(bucket, `part.${i}`),
      Buffer.alloc(3000 + i * 517, i + node.name.length),
    );
}

export const parseBackupDoc = (stdout: string) => JSON.parse(stdout) as FleetBackupDoc;
export const backupDocByNode = (doc: FleetBackupDoc) =>
  Object.fromEntries(doc.nodes.map((n) => [n.node, n]));
