import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { registerFleetCommand } from '../../../src/cli/fleet.js';
import { ConfigError } from '../../../src/lib/errors.js';

/** `node-ca fleet`, wide enough that no help line wraps; errors are thrown, not exits. */
function fleetProgram(): { program: Command; sub: (name: string) => Command } {
  const program = new Command('node-ca')
    .exitOverride()
    .configureHelp({ helpWidth: 400 })
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerFleetCommand(program);
  const fleet = program.commands.find((c) => c.name() === 'fleet')!;
  return { program, sub: (name) => fleet.commands.find((c) => c.name() === name)! };
}

/** The help line of `flag`, its spacing collapsed. */
const helpLine = (help: string, flag: string) =>
  help
    .split('\n')
    .find((l) => l.trimStart().startsWith(flag))
    ?.trim()
    .replace(/\s+/g, ' ');

describe('node-ca fleet --help', () => {
  it.each([
    ['status', 'nodes queried at a time (default: all)'],
    ['pull-check', 'nodes checked at a time (default: all)'],
    [
      'backup',
      'archives downloaded at a time with --out-dir (default: all); the backups always start together',
    ],
  ])('fleet %s says what its --concurrency bounds', (name, text) => {
    const help = fleetProgram().sub(name).helpInformation();
    expect(helpLine(help, '--concurrency')).toBe(`--concurrency <n> ${text}`);
  });

  it('only fleet backup mentions downloads', () => {
    const { sub } = fleetProgram();
    for (const name of ['status', 'pull-check'])
      expect(sub(name).helpInformation()).not.toMatch(/download|backup/);
  });

  it('fleet pull-check shows no `(default: [])` for --image', () => {
    const help = fleetProgram().sub('pull-check').helpInformation();
    expect(helpLine(help, '--image')).toBe(
      '--image <ref> image reference (repeatable, at least one)',
    );
    expect(help).not.toContain('[]');
  });
});

describe('node-ca fleet without a kubeconfig', () => {
  let home: string;

  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'node-ca-fleet-home-'));
    // No KUBECONFIG, an empty home (no ~/.kube/config), and not in a pod.
    vi.stubEnv('KUBECONFIG', undefined);
    vi.stubEnv('HOME', home);
    vi.stubEnv('KUBERNETES_SERVICE_HOST', undefined);
    vi.stubEnv('KUBERNETES_SERVICE_PORT', undefined);
  });

  afterEach(async () => {
    vi.unstubAllEnvs();
    await rm(home, { recursive: true, force: true });
  });

  it('names its own ways to give one: --kubeconfig, KUBECONFIG, ~/.kube/config (not a config file)', async () => {
    const run = fleetProgram().program.parseAsync(['fleet', 'status'], { from: 'user' });
    await expect(run).rejects.toThrow(ConfigError);
    const message = await run.catch((err: unknown) => (err as Error).message);
    expect(message).toMatch(/^kubeconfig: none given and /);
    expect(message).toContain(
      'pass --kubeconfig or set KUBECONFIG (or create ~/.kube/config), or run in a pod with a service account',
    );
    expect(message).not.toContain('configuration');
  });

  it('fleet pull-check collects every --image and refuses none before looking for a kubeconfig', async () => {
    const { program, sub } = fleetProgram();
    await expect(program.parseAsync(['fleet', 'pull-check'], { from: 'user' })).rejects.toThrow(
      'give at least one --image REF',
    );
    const again = fleetProgram();
    await expect(
      again.program.parseAsync(['fleet', 'pull-check', '--image', 'a/b:1', '--image', 'c/d:2'], {
        from: 'user',
      }),
    ).rejects.toThrow(/^kubeconfig: none given/);
    expect(again.sub('pull-check').opts()).toMatchObject({ image: ['a/b:1', 'c/d:2'] });
    expect(sub('pull-check').opts().image).toBeUndefined();
  });
});
