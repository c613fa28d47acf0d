import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath } from '../support/agent.js';

/*
 * The built `node-ca doctor` reading a containerd config with `imports`
 * drop-ins from disk; `containerd --version` answered by a fake through
 * `pull.hostExec`, so the 1.x and 2.x rules can both be exercised.
 */
interface Row {
  id: string;
  status: string;
  subject: string;
  message: string;
  remedy: string;
}

describe('node-ca doctor: containerd config with imports (the built CLI)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'node-ca-doctor-ctd-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  async function sandbox(o: { version: string; main: string; dropIn: string }) {
    const dir = await mkdtemp(path.join(root, 'node-'));
    const certsDir = path.join(dir, 'certs.d');
    await mkdir(path.join(dir, 'source'));
    await mkdir(path.join(dir, 'etc', 'conf.d'), { recursive: true });
    const main = path.join(dir, 'etc', 'config.toml');
    await writeFile(main, o.main.replaceAll('CERTS', certsDir));
    await writeFile(
      path.join(dir, 'etc', 'conf.d', 'registry.toml'),
      o.dropIn.replaceAll('CERTS', certsDir),
    );
    const fake = path.join(dir, 'host-exec.sh');
    await writeFile(
      fake,
      `#!/bin/sh\nif [ "$1" = containerd ]; then echo "containerd github.com/containerd/containerd ${o.version} abc"; exit 0; fi\nexec "$@"\n`,
    );
    await chmod(fake, 0o755);
    const config = path.join(dir, 'node-ca.yaml');
    await writeFile(
      config,
      JSON.stringify({
        nodeName: 'doctor-node',
        trust: {
          sourceDir: path.join(dir, 'source'),
          containerdCertsDir: certsDir,
          dockerCertsDir: '',
          containerdConfig: main,
        },
        hosts: { file: '' },
        pull: { hostExec: [fake] },
      }),
    );
    return { config, dropIn: path.join(dir, 'etc', 'conf.d', 'registry.toml') };
  }

  async function containerdRows(config: string): Promise<Row[]> {
    const child = spawn(process.execPath, [cliPath, 'doctor', '--config', config, '--json'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    await new Promise((resolve) => child.on('close', resolve));
    const report = JSON.parse(stdout) as { checks: Row[] };
    return report.checks.filter((c) => c.id === 'containerd.config');
  }

  const registry = (line: string) =>
    `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  ${line}\n`;
  const importing = 'version = 2\nimports = ["conf.d/*.toml"]\n';

  it('containerd 2.x: config_path only in a drop-in (relative glob) counts', async () => {
    const s = await sandbox({
      version: 'v2.0.5',
      main: importing,
      dropIn: registry('config_path = "CERTS"'),
    });
    const rows = await containerdRows(s.config);
    expect(rows).toMatchObject([{ status: 'ok', subject: s.dropIn }]);
  });

  it('containerd 1.7: a relative glob is not resolved against the config directory', async () => {
    const s = await sandbox({
      version: '1.7.27',
      main: importing,
      dropIn: registry('config_path = "CERTS"'),
    });
    expect((await containerdRows(s.config)).map((r) => r.status)).toEqual(['fail']);
  });

  it('a drop-in overriding config_path wins over the main file', async () => {
    const s = await sandbox({
      version: 'v2.0.5',
      main: `${importing}[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "CERTS"\n`,
      dropIn: registry('config_path = "/etc/containerd/other.d"'),
    });
    const rows = await containerdRows(s.config);
    expect(rows).toMatchObject([{ status: 'fail', subject: s.dropIn }]);
    expect(rows[0]?.message).toContain('does not cover');
  });
});
