#!/usr/bin/env node
// A/B of two builds of the agent on the same tree: one agent per build, backups
// alternating between them (ABBA order), so both see the same minutes of this
// VM, whose speed drifts by 30 % within an hour. Prints each backup's wall time
// and agent CPU, then the medians.
// Usage: node bench/backup-ab.mjs --a <repo dir> --b <repo dir> [--runs N] [--tree DIR]
//   Each repo dir must be built (`npm run build`); a `git worktree` of another
//   commit with `node_modules` linked to this one's is enough. The tree defaults
//   to the one `bench/backup.mjs --keep` leaves: /var/tmp/node-ca-bench-trees/small-files.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, median, runBackup, shippedNodeFlags, startBackupAgent } from './lib.mjs';

const { values: opts } = parseArgs({
  options: { a: { type: 'string' }, b: { type: 'string' }, runs: { type: 'string', default: '4' }, tree: { type: 'string', default: '/var/tmp/node-ca-bench-trees/small-files' } },
});
if (opts.a === undefined || opts.b === undefined) throw new Error('--a and --b: the two repo dirs to compare');
const nodeFlags = await shippedNodeFlags();

async function startAgent(name, repo) {
  const base = `/var/tmp/node-ca-backup-ab-${name}`;
  await rm(base, { recursive: true, force: true });
  const { child, url } = await startBackupAgent({ base, src: opts.tree, cli: path.join(path.resolve(repo), 'dist/cli/main.js'), nodeFlags });
  return { name, child, url, base, times: [], cpus: [] };
}

async function backup(agent) {
  const cpu0 = await cpuSeconds(agent.child.pid);
  const { seconds } = await runBackup(agent.url).catch((err) => {
    throw new Error(`${agent.name}: ${err.message}`);
  });
  agent.times.push(seconds);
  agent.cpus.push((await cpuSeconds(agent.child.pid)) - cpu0);
  await rm(path.join(agent.base, 'out'), { recursive: true, force: true });
  process.stderr.write(`  ${agent.name}: ${seconds.toFixed(2)} s, agent CPU ${agent.cpus.at(-1).toFixed(1)} s\n`);
}

const agents = [await startAgent('a', opts.a), await startAgent('b', opts.b)];
try {
  for (let r = 0; r < Number(opts.runs); r++) for (const agent of r % 2 === 0 ? agents : [...agents].reverse()) await backup(agent);
} finally {
  for (const agent of agents) agent.child.kill('SIGTERM');
}
for (const agent of agents)
  console.log(`${agent.name} (${opts[agent.name]}): median ${median(agent.times).toFixed(2)} s [${agent.times.map((t) => t.toFixed(2)).join(', ')}], agent CPU median ${median(agent.cpus).toFixed(1)} s`);
