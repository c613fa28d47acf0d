import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliPath, repoRoot } from '../support/agent.js';

/*
 * The bin under the machine's own Node (v20 here and in CI: .ci/run's npm ci
 * runs on it), not the Node 24 that runs these tests. npm puts every
 * node_modules/.bin (with the `node` package's Node 24) first on PATH, so
 * those entries are left out to find the one a newcomer's shell finds.
 */
const systemPath = (process.env.PATH ?? '')
  .split(path.delimiter)
  .filter((dir) => dir !== '' && !dir.split(path.sep).includes('node_modules'))
  .join(path.delimiter);

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findSystemNode(): { path: string; version: string } | undefined {
  const ours = realpathSync(process.execPath);
  const candidates = [...systemPath.split(path.delimiter), '/usr/bin', '/usr/local/bin'].map((d) =>
    path.join(d, 'node'),
  );
  const found = candidates.find((c) => isExecutable(c) && realpathSync(c) !== ours);
  if (found === undefined) return undefined;
  return { path: found, version: run(found, ['--version']).stdout.trim() };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(command, args, { cwd: repoRoot, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const systemNode = findSystemNode();
const refusal = (version: string) =>
  `node-ca: needs Node.js 24 (this is ${version}); run it with the project's Node: ` +
  'npx node-ca …, or node_modules/.bin/node dist/cli/main.js …\n';

describe('the node-ca bin on the Node it was not built for', () => {
  it("finds the machine's own Node, older than 24 (CI's too; without it nothing here is tested)", () => {
    expect(
      systemNode,
      `no node outside node_modules on PATH (${systemPath}) nor in /usr/bin, /usr/local/bin`,
    ).toBeDefined();
    expect(Number(/^v(\d+)\./.exec(systemNode!.version)?.[1])).toBeLessThan(24);
  });

  it('refuses `node dist/cli/main.js --help` with one line and exit 2, not an ESM link error', () => {
    const r = run(systemNode!.path, [cliPath, '--help']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: refusal(systemNode!.version) });
  });

  it("refuses `./dist/cli/main.js version` through its shebang with the shell's node", () => {
    const r = run(cliPath, ['version'], { ...process.env, PATH: systemPath });
    expect(r).toEqual({ code: 2, stdout: '', stderr: refusal(systemNode!.version) });
  });

  it('still runs on Node 24, directly and through the shebang with node_modules/.bin first', () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(run(process.execPath, [cliPath, '--version'])).toEqual({
      code: 0,
      stdout: `${version}\n`,
      stderr: '',
    });
    const binDir = path.join(repoRoot, 'node_modules', '.bin');
    const shebang = run(cliPath, ['version'], {
      ...process.env,
      PATH: `${binDir}${path.delimiter}${systemPath}`,
    });
    expect(shebang).toEqual({
      code: 0,
      stdout: `node-ca ${version} (node ${process.versions.node})\n`,
      stderr: '',
    });
  });
});
