import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliPath, startAgentProcess, type AgentProcess, loopbackServer } from '../support/agent.js';
import { createProjectedConfigMap } from '../support/kubelet.js';
import { makeCa } from '../support/pki.js';
import { waitFor } from '../support/poll.js';

const run = promisify(execFile);
const ours = '10.96.0.5 image-registry.image-registry-system.svc image-registry.image-registry-system.svc.cluster.local # node-ca';
const foreignHosts = `# admin comment\n127.0.0.1 localhost\n\n10.0.0.9 db.example # managed by someone else\n${ours}\n::1 localhost`;
const adminCa = '-----BEGIN CERTIFICATE-----\nadmin bytes, not even PEM\n-----END CERTIFICATE-----\n';

let root: string;
let agent: AgentProcess | undefined;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-cleanup-'));
});

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await rm(root, { recursive: true, force: true });
});

function layout() {
  return {
    source: path.join(root, 'ca-bundle'),
    containerd: path.join(root, 'containerd-certs.d'),
    docker: path.join(root, 'docker-certs.d'),
    hosts: path.join(root, 'hosts'),
    config: path.join(root, 'config.yaml'),
  };
}

function agentConfig(l: ReturnType<typeof layout>, hostsFile = l.hosts) {
  return {
    trust: { sourceDir: l.source, containerdCertsDir: l.containerd, dockerCertsDir: l.docker },
    hosts: { file: hostsFile },
    server: loopbackServer,
    backup: { stateDir: path.join(root, 'state'), dir: path.join(root, 'backup') },
  };
}

/** An administrator's own registry directory (no marker), in both certs dirs. */
async function writeAdminDirs(l: ReturnType<typeof layout>): Promise<void> {
  for (const dir of [l.containerd, l.docker]) {
    await mkdir(path.join(dir, 'admin.example:5000'), { recursive: true });
    await writeFile(path.join(dir, 'admin.example:5000', 'ca.crt'), adminCa);
  }
  await writeFile(path.join(l.containerd, 'admin.example:5000', 'hosts.toml'), 'server = "https://admin.example:5000"\n');
}

/** Runs the agent until it has written both registries, then stops it. */
async function runAgentOnce(l: ReturnType<typeof layout>): Promise<void> {
  await createProjectedConfigMap(l.source).write({
    'registry.example..5000': makeCa('registry CA').cert,
    'mirror.example': makeCa('mirror CA', { keyIndex: 2 }).cert,
  });
  // The agent's own hosts lines need the API; here the line is written by the test and the agent keeps to trust.
  agent = await startAgentProcess({ config: agentConfig(l, '') });
  const markers = [l.containerd, l.docker].flatMap((d) =>
    ['registry.example:5000', 'mirror.example'].map((h) => path.join(d, h, '.node-ca')),
  );
  await waitFor(async () => (await Promise.all(markers.map((m) => stat(m).then(() => true, () => false)))).every(Boolean), {
    timeoutMs: 20_000,
    message: 'agent wrote both registries in both certs dirs',
  });
  const { code } = await agent.stop();
  expect(code).toBe(0);
}

async function cleanup(configFile: string) {
  return run(process.execPath, [cliPath, 'cleanup', '--config', configFile], { timeout: 30_000 });
}

describe('node-ca cleanup', () => {
  it('removes exactly the directories and hosts lines the agent owns', async () => {
    const l = layout();
    await writeAdminDirs(l);
    await writeFile(l.hosts, foreignHosts);
    await runAgentOnce(l);
    await writeFile(l.config, JSON.stringify(agentConfig(l)));

    const { stdout } = await cleanup(l.config);

    for (const dir of [l.containerd, l.docker]) expect(await readdir(dir)).toEqual(['admin.example:5000']);
    expect(await readFile(path.join(l.docker, 'admin.example:5000', 'ca.crt'), 'utf8')).toBe(adminCa);
    expect(await readFile(path.join(l.containerd, 'admin.example:5000', 'ca.crt'), 'utf8')).toBe(adminCa);
    expect(await readdir(path.join(l.containerd, 'admin.example:5000'))).toEqual(['ca.crt', 'hosts.toml']);
    expect(await readFile(l.hosts, 'utf8')).toBe(foreignHosts.replace(`${ours}\n`, ''));
    expect(stdout).toContain(`removed ${path.join(l.containerd, 'registry.example:5000')}`);
    expect(stdout).toContain(`removed ${path.join(l.docker, 'mirror.example')}`);
    expect(stdout).toContain(`removed from ${l.hosts}: ${ours}`);
    expect(stdout).not.toContain('admin.example');

    const again = await cleanup(l.config);
    expect(again.stdout).toMatch(/^nothing to remove/);
  });

  it('keeps an owned directory that also holds a file the agent did not write, and says so', async () => {
    const l = layout();
    await runAgentOnce(l);
    const hostDir = path.join(l.docker, 'registry.example:5000');
    await writeFile(path.join(hostDir, 'client.cert'), 'admin client cert');
    await writeFile(l.config, JSON.stringify(agentConfig(l)));

    const { stdout } = await cleanup(l.config);

    // The marker stays with the kept directory: it is still node-ca's, and a second cleanup says so again.
    expect((await readdir(hostDir)).sort()).toEqual(['.node-ca', 'client.cert']);
    expect(await readdir(l.docker)).toEqual(['registry.example:5000']);
    expect(stdout).toContain(`kept ${hostDir}: `);
    expect(stdout).toContain('client.cert');
    expect((await cleanup(l.config)).stdout).toContain(`kept ${hostDir}: `);
  });

  it('leaves a directory whose .node-ca is not node-ca\'s marker, and a hosts.toml in a Docker-style dir', async () => {
    const l = layout();
    await runAgentOnce(l);
    const junk = path.join(l.containerd, 'junk.example');
    await mkdir(junk);
    await writeFile(path.join(junk, '.node-ca'), 'junk');
    await writeFile(path.join(junk, 'ca.crt'), adminCa);
    const dockerDir = path.join(l.docker, 'mirror.example');
    await writeFile(path.join(dockerDir, 'hosts.toml'), 'admin toml');
    await writeFile(l.config, JSON.stringify(agentConfig(l)));

    const { stdout } = await cleanup(l.config);

    expect((await readdir(junk)).sort()).toEqual(['.node-ca', 'ca.crt']);
    expect(await readFile(path.join(junk, 'ca.crt'), 'utf8')).toBe(adminCa);
    expect(stdout).not.toContain('junk.example');
    expect((await readdir(dockerDir)).sort()).toEqual(['.node-ca', 'hosts.toml']);
    expect(await readFile(path.join(dockerDir, 'hosts.toml'), 'utf8')).toBe('admin toml');
  });

  it('rewrites a bind-mounted hosts file in place (the pod case), keeping its inode and mode', async () => {
    const l = layout();
    const hostFile = path.join(root, 'host-etc-hosts');
    const mountPoint = path.join(root, 'pod-hosts');
    await writeFile(hostFile, foreignHosts, { mode: 0o640 });
    await writeFile(mountPoint, '');
    await writeFile(l.config, JSON.stringify(agentConfig(l, mountPoint)));
    const before = await stat(hostFile);

    // A private mount namespace: the bind mount exists only for this command.
    const script = 'mount --bind "$1" "$2" && exec "$3" "$4" cleanup --config "$5"';
    const { stdout } = await run(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', hostFile, mountPoint, process.execPath, cliPath, l.config],
      { timeout: 30_000 },
    );

    expect(stdout).toContain(`removed from ${mountPoint}: ${ours}`);
    expect(await readFile(hostFile, 'utf8')).toBe(foreignHosts.replace(`${ours}\n`, ''));
    const after = await stat(hostFile);
    expect(after.ino).toBe(before.ino);
    expect(after.mode & 0o777).toBe(0o640);
    expect(await readFile(mountPoint, 'utf8')).toBe('');
  });
});
