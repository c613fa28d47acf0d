import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/agent.js';
import { daemonsetDir, readManifests } from '../support/manifests.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Dockerfile → stages of instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, from = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ from, name, instructions: [] });
    } else stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}

const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const build = stages[0]!;
const runtime = stages.at(-1)!;
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  license: string;
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const runs = (s: Stage) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
const execForm = (s: Stage, op: string) => JSON.parse(s.instructions.find((i) => i.op === op)?.args ?? 'null') as string[] | null;

describe('Dockerfile', () => {
  it('has a build stage and a runtime stage, both on node:24-bookworm-slim pinned by tag', () => {
    expect(stages).toHaveLength(2);
    expect(build.name).toBe('build');
    for (const s of stages) expect(s.from).toBe('node:24-bookworm-slim');
    // The same major as the tests (the npm `node` devDependency) and engines.
    expect(pkg.devDependencies.node?.split('.')[0]).toBe('24');
    expect(pkg.engines.node).toMatch(/>=24 <25/);
  });

  it('builds with npm ci and npm run build, without running tests', () => {
    expect(runs(build)).toEqual(['npm ci', 'npm run build']);
  });

  it('installs only production dependencies in the runtime stage', () => {
    const npm = runs(runtime).filter((r) => /\bnpm\b/.test(r));
    expect(npm).toHaveLength(1);
    expect(npm[0]).toMatch(/^npm ci --omit=dev\b/);
    expect(npm.join(' ')).not.toMatch(/npm (install|i)\b/);
    // The `node` package (Node 24 for npm scripts) must stay a dev dependency.
    expect(pkg.dependencies.node).toBeUndefined();
    const fromBuild = runtime.instructions.filter((i) => i.op === 'COPY' && i.args.startsWith('--from='));
    expect(fromBuild.map((i) => i.args)).toEqual(['--from=build /src/dist ./dist']);
  });

  it('installs exactly tar, util-linux, ca-certificates and tini, without recommends', () => {
    const apt = runs(runtime).filter((r) => r.includes('apt-get install'));
    expect(apt).toHaveLength(1);
    const install = /apt-get install (.*?)(?:&&|$)/.exec(apt[0]!)?.[1]?.trim().split(/\s+/) ?? [];
    expect(install.filter((w) => w.startsWith('-')).sort()).toEqual(['--no-install-recommends', '-y']);
    expect(install.filter((w) => !w.startsWith('-')).sort()).toEqual(['ca-certificates', 'tar', 'tini', 'util-linux']);
    expect(apt[0]).toContain('rm -rf /var/lib/apt/lists/*');
    expect(runs(build).join(' ')).not.toContain('apt-get');
  });

  it('starts node-ca under tini with `agent --config` on the DaemonSet-mounted config as default', () => {
    // The V8 flags of a small resident agent (README "Performance"), which bench/trust.mjs reuses.
    expect(execForm(runtime, 'ENTRYPOINT')).toEqual([
      // -s: a subreaper, since with the DaemonSet's hostPID tini is not PID 1.
      'tini', '-s', '--', 'node',
      '--max-semi-space-size=1', '--expose-gc', '--no-maglev', '--v8-pool-size=2',
      '/app/dist/cli/main.js',
    ]);
    const cmd = execForm(runtime, 'CMD');
    expect(cmd).toEqual(['agent', '--config', '/etc/node-ca/config.yaml']);
    const ds = readManifests(path.join(daemonsetDir, 'daemonset.yaml'))[0] as unknown as {
      spec: { template: { spec: { containers: { args: string[]; volumeMounts: { name: string; mountPath: string }[] }[] } } };
    };
    const c = ds.spec.template.spec.containers[0]!;
    expect(c.args).toEqual(cmd);
    expect(c.volumeMounts.find((m) => m.name === 'config')?.mountPath).toBe(path.dirname(cmd![2]!));
  });

  it('carries the OCI labels', () => {
    const labels = runtime.instructions.filter((i) => i.op === 'LABEL').map((i) => i.args).join(' ');
    for (const key of ['title', 'description', 'version', 'revision', 'licenses'])
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    expect(labels).toContain(`org.opencontainers.image.licenses="${pkg.license}"`);
  });
});

describe('.dockerignore', () => {
  const patterns = readFileSync(path.join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  // Top-level names only: the last matching pattern wins, `!` re-includes.
  const included = (name: string) =>
    patterns.reduce((inc, p) => {
      const negated = p.startsWith('!');
      const body = (negated ? p.slice(1) : p).replace(/\/$/, '');
      return body === '*' || body === name ? negated : inc;
    }, true);

  it('keeps node_modules, dist, .git, tests and docs out of the build context', () => {
    for (const name of ['node_modules', 'dist', '.git', 'test', 'bench', 'docs', 'daemonset', 'coverage'])
      expect(included(name), name).toBe(false);
  });

  it('lets in every path the Dockerfile copies from the context', () => {
    const sources = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) expect(included(src.split('/')[0]!), src).toBe(true);
  });
});
