/**
 * Figure: `node-ca fleet backup --out-dir` wall time for three control-plane
 * nodes on loopback (three agent processes, HTTPS, auth.mode kubernetes
 * against the API double), each backing up a MinIO-like directory of
 * SIZE MiB in FILES files, then the downloads with re-hash.
 * Run: npm run build && node bench/ts-loader.mjs bench/fleet-backup.ts [SIZE_MIB=256] [FILES=2000] [--no-download]
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startFleetCluster } from '../test/support/fleet-cluster.js';
import { makeCa } from '../test/support/pki.js';

const sizeMiB = Number(process.argv[2] ?? 256);
const files = Number(process.argv[3] ?? 2000);
const download = !process.argv.includes('--no-download');
const cp = { 'node-role.kubernetes.io/control-plane': '' };

const cluster = await startFleetCluster();
try {
  const bundle = { 'image-registry.image-registry-system.svc..5000': makeCa('bench-ca').cert };
  const nodes = await Promise.all(
    ['cp1', 'cp2', 'cp3'].map((name) => cluster.addNode({ name, labels: cp }, bundle)),
  );
  const per = Math.floor((sizeMiB * 1024 * 1024) / files);
  const chunk = randomBytes(per);
  for (const n of nodes) {
    for (let i = 0; i < files; i++) {
      const dir = path.join(n.sourceDir, 'registry', `d${i % 64}`);
      await mkdir(dir, { recursive: true });
      chunk[0] = i & 0xff;
      await writeFile(path.join(dir, `xl.meta.${i}`), chunk);
    }
  }
  cluster.allow('backups', ['create', 'get', 'delete']);
  const t0 = performance.now();
  const run = await cluster.runFleet([
    'backup',
    '--json',
    ...(download ? ['--out-dir', path.join(cluster.root, 'out')] : []),
  ]);
  const wallMs = performance.now() - t0;
  if (run.code !== 0) throw new Error(`fleet backup failed: ${run.stderr}`);
  process.stderr.write(run.stderr);
  const doc = JSON.parse(run.stdout) as {
    nodes: {
      node: string;
      job: { startTime: string; completionTime: string; archive: { bytes: number } };
    }[];
  };
  const perNode = doc.nodes.map((n) => ({
    node: n.node,
    backupMs: Date.parse(n.job.completionTime) - Date.parse(n.job.startTime),
    archiveBytes: n.job.archive.bytes,
  }));
  const result = {
    figure: 'fleet-backup-3-nodes',
    sizeMiBPerNode: sizeMiB,
    filesPerNode: files,
    wallMs: Math.round(wallMs),
    perNode,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.stdout.write(
    `fleet backup, 3 nodes x ${sizeMiB} MiB in ${files} files, ${download ? 'with' : 'without'} download and re-hash: ${(wallMs / 1000).toFixed(1)} s wall ` +
      `(per-node backup ${perNode.map((p) => (p.backupMs / 1000).toFixed(1)).join('/')} s)\n`,
  );
} finally {
  await cluster.close();
}
