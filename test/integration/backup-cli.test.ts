import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cliPath } from '../support/agent.js';
import { makeTree } from '../support/backup.js';

const run = promisify(execFile);
let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-bkc-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function cli(args: string[]) {
  return run(process.execPath, [cliPath, ...args], { env: { PATH: process.env.PATH ?? '' } }).then(
    (r) => ({ code: 0, ...r }),
    (e: unknown) => e as { code: number; stdout: string; stderr: string },
  );
}

describe('node-ca backup (in-process job)', () => {
  it('prints plain progress and a verified summary, exit 0; exit non-zero when the source is missing', async () => {
    await makeTree(path.join(root, 'src'), 400);
    const config = path.join(root, 'config.yaml');
    const backup = { sources: { minio: path.join(root, 'src'), gone: path.join(root, 'gone') }, dir: path.join(root, 'out'), stateDir: path.join(root, 'state'), minFreePercent: 0 };
    await writeFile(config, JSON.stringify({ nodeName: 'cli-node', backup }));
    const ok = await cli(['backup', '--config', config]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/: Succeeded\n/);
    expect(ok.stdout).toContain(path.join(root, 'out', 'cli-node-minio.tar'));
    expect(ok.stdout).toMatch(/verified {4}yes/);
    expect(ok.stderr).toMatch(/100% .* (\d+)\/\1 files/);
    await mkdir(path.join(root, 'gone'));
    await rm(path.join(root, 'gone'), { recursive: true });
    const bad = await cli(['backup', '--config', config, '--source', 'gone']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('does not exist');
  });
});
