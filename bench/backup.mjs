#!/usr/bin/env node
// Backup benchmark: a verified backup through the node-ca agent against
// `tar -cf X -C / src && sync X` on the same tree, runs alternating in ABBA order (node-ca then
// tar, tar then node-ca, ...) after one uncounted warm-up run of each.
// Targets: time ratio <= 1.10 on both trees (the ratio of the medians; each pair's own ratio is
// printed too, since this VM's speed drifts between minutes); agent peak RSS (VmHWM) <= 150 MiB.
// Usage (after `npm run build`): node bench/backup.mjs [--small] [--runs N] [--dir BASE] [--tree small-files|big-files]
//   [--keep] [--node-flags='…'] [--agent-node-options '…']
// The agent runs with the Dockerfile ENTRYPOINT's node flags (as shipped) unless --node-flags says otherwise.
// Trees go under /var/tmp (a real disk, not tmpfs) and are deleted at the end, unless --keep:
// then they stay in BASE/node-ca-bench-trees and later --keep runs reuse them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, rm, writeFile, open } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, median, rssMiB, runBackup, shippedNodeFlags, startBackupAgent } from './lib.mjs';

const { values: opts } = parseArgs({
  options: { keep: { type: 'boolean', default: false }, 'node-flags': { type: 'string' }, tree: { type: 'string' }, 'agent-node-options': { type: 'string', default: '' }, small: { type: 'boolean', default: false }, runs: { type: 'string', default: '2' }, dir: { type: 'string', default: '/var/tmp' } },
});
const runs = Number(opts.runs);
const nodeFlags = opts['node-flags'] === undefined ? await shippedNodeFlags() : opts['node-flags'].split(/\s+/).filter(Boolean);
const repo = path.resolve(import.meta.dirname, '..');
const cli = path.join(repo, 'dist/cli/main.js');
const MiB = 1024 * 1024;
const allTrees = opts.small
  ? [{ name: 'small-files', files: 20_000, min: 4096, max: 16384 }, { name: 'big-files', files: 2, big: 128 * MiB }]
  : [{ name: 'small-files', files: 200_000, min: 4096, max: 16384 }, { name: 'big-files', files: 8, big: 256 * MiB }];
const trees = allTrees.filter((t) => opts.tree === undefined || t.name === opts.tree);
if (trees.length === 0) throw new Error(`--tree ${opts.tree}: not one of ${allTrees.map((t) => t.name).join(', ')}`);

const noise = randomBytes(16 * MiB);
const slice = (n, seed) => noise.subarray(seed % (noise.length - n), (seed % (noise.length - n)) + n);

async function generate(dir, t) {
  await mkdir(dir, { recursive: true });
  if (t.big) {
    for (let i = 0; i < t.files; i++) {
      const fh = await open(path.join(dir, `part.${i}`), 'w');
      for (let w = 0; w < t.big; w += 16 * MiB) await fh.write(randomBytes(Math.min(16 * MiB, t.big - w)));
      await fh.close();
    }
    return;
  }
  const perDir = 1000;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < t.files; i = next++) {
      const d = path.join(dir, `bucket-${Math.floor(i / perDir)}`, 'xl.meta.d');
      if (i % perDir === 0) await mkdir(d, { recursive: true });
      else await waitDir(d);
      await writeFile(path.join(d, `obj-${i}`), slice(t.min + ((i * 7919) % (t.max - t.min + 1)), i * 104729));
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
}

async function waitDir(d) {
  for (let k = 0; k < 1000; k++) {
    try { await import('node:fs').then((fs) => fs.promises.access(d)); return; } catch { await new Promise((r) => setTimeout(r, 5)); }
  }
  await mkdir(d, { recursive: true });
}

async function timeTar(src, out) {
  const t0 = performance.now();
  execFileSync('tar', ['-cf', out, '-C', '/', src.slice(1)]);
  execFileSync('sync', [out]);
  const s = (performance.now() - t0) / 1000;
  await rm(out, { force: true });
  return s;
}

async function timeAgent(base, src) {
  const { child, url } = await startBackupAgent({ base, src, cli, nodeFlags, env: { NODE_OPTIONS: opts['agent-node-options'] } });
  try {
    const cpu0 = await cpuSeconds(child.pid);
    const { job, seconds, phases } = await runBackup(url);
    const cpuS = (await cpuSeconds(child.pid)) - cpu0;
    const hwmMiB = await rssMiB(child.pid, 'VmHWM');
    return { s: seconds, phases, cpuS, rssMiB: hwmMiB, bytes: job.archive.bytes, matched: job.verification.matched };
  } finally {
    child.kill('SIGTERM');
    await rm(path.join(base, 'out'), { recursive: true, force: true });
  }
}

const base = opts.keep ? path.join(opts.dir, 'node-ca-bench-trees') : await mkdtemp(path.join(opts.dir, 'node-ca-bench-'));
const exists = (p) => access(p).then(() => true, () => false);
const results = [];
try {
  for (const t of trees) {
    const src = path.join(base, `${t.name}${opts.small ? '-small' : ''}`);
    const done = path.join(base, `${path.basename(src)}.complete`);
    if (!(opts.keep && (await exists(done)))) {
      const g0 = performance.now();
      await rm(src, { recursive: true, force: true });
      await generate(src, t);
      execFileSync('sync');
      await writeFile(done, '');
      process.stderr.write(`${t.name}: generated in ${((performance.now() - g0) / 1000).toFixed(1)} s\n`);
    }
    const agentRuns = [];
    const tarRuns = [];
    // Warm-up, not counted: one run of each side, so neither pays alone for whatever the first
    // reads and writes after a pause cost on this VM (its guest kernel pages out idle page cache).
    const warmTar = await timeTar(src, path.join(base, 'warm.tar'));
    const warmAgent = await timeAgent(base, src);
    process.stderr.write(`  warm-up (not counted): tar+sync ${warmTar.toFixed(2)} s, node-ca ${warmAgent.s.toFixed(2)} s\n`);
    for (let r = 0; r < runs; r++) {
      // ABBA: every other pair runs tar first, so neither side always follows the other's read of the tree.
      if (r % 2 === 1) tarRuns.push(await timeTar(src, path.join(base, 'plain.tar')));
      agentRuns.push(await timeAgent(base, src));
      if (r % 2 === 0) tarRuns.push(await timeTar(src, path.join(base, 'plain.tar')));
      const ph = agentRuns.at(-1).phases;
      process.stderr.write(`  run ${r + 1} (${r % 2 === 0 ? 'node-ca first' : 'tar first'}): node-ca ${agentRuns.at(-1).s.toFixed(2)} s (walk ${ph.walk.toFixed(2)} + stream ${ph.stream.toFixed(2)} + verify ${ph.verify.toFixed(2)} s; CPU ${agentRuns.at(-1).cpuS.toFixed(1)} s, RSS ${agentRuns.at(-1).rssMiB.toFixed(0)} MiB), tar+sync ${tarRuns.at(-1).toFixed(2)} s, pair ratio ${(agentRuns.at(-1).s / tarRuns.at(-1)).toFixed(3)}\n`);
    }
    const nodeCa = median(agentRuns.map((x) => x.s));
    const tar = median(tarRuns);
    results.push({ tree: t.name, files: t.files, archiveBytes: agentRuns[0].bytes, nodeCaSeconds: nodeCa, nodeCaCpuSeconds: median(agentRuns.map((x) => x.cpuS)), tarSyncSeconds: tar, ratio: nodeCa / tar, pairRatios: agentRuns.map((x, i) => Number((x.s / tarRuns[i]).toFixed(3))), peakRssMiB: Math.max(warmAgent.rssMiB, ...agentRuns.map((x) => x.rssMiB)), verified: warmAgent.matched && agentRuns.every((x) => x.matched) });
    if (!opts.keep) await rm(src, { recursive: true, force: true });
  }
} finally {
  if (!opts.keep) await rm(base, { recursive: true, force: true });
}
console.log(JSON.stringify({ bench: 'backup', small: opts.small, runs, nodeFlags, agentNodeOptions: opts['agent-node-options'], results }, null, 2));
for (const r of results)
  console.log(`${r.tree}: node-ca ${r.nodeCaSeconds.toFixed(2)} s vs tar+sync ${r.tarSyncSeconds.toFixed(2)} s = ratio ${r.ratio.toFixed(3)} (target <= 1.10; pairs: median ${median(r.pairRatios).toFixed(3)}, ${Math.min(...r.pairRatios).toFixed(3)}–${Math.max(...r.pairRatios).toFixed(3)}); peak RSS ${r.peakRssMiB.toFixed(0)} MiB (target <= 150); ${(r.archiveBytes / 2 ** 30).toFixed(2)} GiB verified=${r.verified}`);
