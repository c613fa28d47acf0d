#!/usr/bin/env node
// A/B of two builds of the agent on the same tree: one agent per build, backups
// alternating between them (ABBA order), so both see the same minutes of this
// VM, whose speed drifts by 30 % within an hour. Prints each backup's wall time
// and agent CPU, then the medians.
// Usage: node bench/backup-ab.mjs --a <repo dir> --b <repo dir> [--runs N] [--tree DIR]
//   Each repo dir must be built (`npm run build`); a `git worktree` of another
//   commit with `node_modules` linked to this one's is enough. The tree defaults
//   to the one `bench/backup.mjs --keep` leaves: /var/tmp/node-ca-bench-trees/small-files.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { shippedNodeFlags } from './lib.mjs';

const { values: opts } = parseArgs({
  options: { a: { type: 'string' }, b: { type: 'string' }, runs: { type: 'string', default: '4' }, tree: { type: 'string', default: '/var/tmp/node-ca-bench-trees/small-files' } },
});
if (opts.a === undefined || opts.b === undefined) throw new Error('--a and --b: the two repo dirs to compare');
const nodeFlags = await shippedNodeFlags();

async function startAgent(name, repo) {
  const base = `/var/tmp/node-ca-backup-ab-${name}`;
  await rm(base, { recursive: true, force: true });
  await mkdir(path.join(base, 'ca'), { recursive: true });
  const config = path.join(base, 'agent.json');
  await writeFile(config, JSON.stringify({
    nodeIP: '10.9.9.9',
    trust: { sourceDir: path.join(base, 'ca'), containerdCertsDir: '', dockerCertsDir: '' },
    hosts: { file: '' },
    server: { listen: '127.0.0.1:0', tls: { mode: 'disabled' }, auth: { mode: 'none' }, socket: '' },
    backup: { sources: { minio: opts.tree }, dir: path.join(base, 'out'), stateDir: path.join(base, 'state'), minFreePercent: 5 },
  }));
  const child = spawn(process.execPath, [...nodeFlags, path.join(path.resolve(repo), 'dist/cli/main.js'), 'agent', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: process.env.PATH, NODE_NAME: 'bench' } });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      try { const j = JSON.parse(l); if (j.msg === 'node-ca agent started') resolve(j.url); } catch { /* not JSON */ }
    });
    child.on('exit', () => reject(new Error(`agent ${name} exited`)));
  });
  return { name, child, url, base, times: [], cpus: [] };
}

async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function backup(agent) {
  const cpu0 = await cpuSeconds(agent.child.pid);
  const t0 = performance.now();
  const res = await fetch(`${agent.url}/v1/backups`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  const job = await res.json();
  if (res.status !== 202) throw new Error(JSON.stringify(job));
  let done;
  for (;;) {
    done = await (await fetch(`${agent.url}/v1/backups/${job.id}`)).json();
    if (['Succeeded', 'Failed', 'Canceled'].includes(done.phase)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const s = (performance.now() - t0) / 1000;
  if (done.phase !== 'Succeeded') throw new Error(`${agent.name}: ${JSON.stringify(done.error)}`);
  agent.times.push(s);
  agent.cpus.push((await cpuSeconds(agent.child.pid)) - cpu0);
  await rm(path.join(agent.base, 'out'), { recursive: true, force: true });
  process.stderr.write(`  ${agent.name}: ${s.toFixed(2)} s, agent CPU ${agent.cpus.at(-1).toFixed(1)} s\n`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const agents = [await startAgent('a', opts.a), await startAgent('b', opts.b)];
try {
  for (let r = 0; r < Number(opts.runs); r++) for (const agent of r % 2 === 0 ? agents : [...agents].reverse()) await backup(agent);
} finally {
  for (const agent of agents) agent.child.kill('SIGTERM');
}
for (const agent of agents)
  console.log(`${agent.name} (${opts[agent.name]}): median ${median(agent.times).toFixed(2)} s [${agent.times.map((t) => t.toFixed(2)).join(', ')}], agent CPU median ${median(agent.cpus).toFixed(1)} s`);
