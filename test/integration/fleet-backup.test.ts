import { execFileSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  startFleetWithBundle,
  controlPlane as cp,
  fillMinioSource as fillSource,
  parseBackupDoc as parse,
  backupDocByNode as byNode,
  type FleetBackupDoc,
  type FleetCluster,
  type FleetNode,
} from '../support/fleet-cluster.js';

const master = { 'node-role.kubernetes.io/master': '' };

let cluster: FleetCluster;
let trap: Server | undefined;
let trapConnections = 0;
let bundle: Record<string, string>;

beforeEach(async () => {
  ({ cluster, bundle } = await startFleetWithBundle());
});
afterEach(async () => {
  trap?.close();
  trap = undefined;
  await cluster.close();
});

/** A TCP port that counts connections: the worker's "agent", which fleet backup must never call. */
async function startTrap(): Promise<number> {
  trap = createServer((s) => {
    trapConnections += 1;
    s.destroy();
  });
  await new Promise<void>((r) => trap?.listen(0, '127.0.0.1', r));
  return (trap.address() as { port: number }).port;
}

type NodeBackup = FleetBackupDoc['nodes'][number];

/** The archive's file name, the same on the node and in the out dir. */
function archiveName(r: NodeBackup | undefined): string {
  return path.basename(r?.job?.archivePath ?? '');
}

/** A node's backup succeeded, and its archive and sidecars in `out/NODE/` are byte-identical to the node's own. */
async function expectDownloaded(out: string, n: FleetNode, r: NodeBackup | undefined): Promise<void> {
  expect(r).toMatchObject({ ok: true, job: { phase: 'Succeeded' } });
  expect(Date.parse(r?.job?.completionTime ?? '')).toBeGreaterThanOrEqual(
    Date.parse(r?.job?.startTime ?? ''),
  );
  const name = archiveName(r);
  const local = path.join(out, n.name, name);
  expect(await readFile(local)).toEqual(await readFile(path.join(n.backupDir, name)));
  expect(await readFile(`${local}.sha256`, 'utf8')).toBe(
    await readFile(path.join(n.backupDir, `${name}.sha256`), 'utf8'),
  );
  expect(await readFile(`${local}.manifest`, 'utf8')).toBe(
    await readFile(path.join(n.backupDir, `${name}.manifest`), 'utf8'),
  );
  // Every object of the registry is in there: private to the caller, as on the node (0600).
  for (const file of [local, `${local}.sha256`, `${local}.manifest`])
    expect((await stat(file)).mode & 0o777, file).toBe(0o600);
  expect((await stat(path.join(out, n.name))).mode & 0o777).toBe(0o700);
  // The sidecar checks the archive the way SPEC says: sha256sum -c in its directory.
  expect(
    execFileSync('sha256sum', ['-c', `${name}.sha256`], {
      cwd: path.join(out, n.name),
    }).toString(),
  ).toMatch(/: OK/);
}

describe('node-ca fleet backup', () => {
  it('backs up every control-plane node, never a worker, and downloads byte-identical archives with sidecars', async () => {
    const nodes = await Promise.all(
      ['cp1', 'cp2', 'cp3'].map((name) => cluster.addNode({ name, labels: cp }, bundle)),
    );
    await cluster.addNode({ name: 'w1', agent: false }, bundle);
    cluster.setPod('w1', { ready: true, port: await startTrap() });
    for (const n of nodes) await fillSource(n);
    cluster.allow('backups', ['create', 'get', 'delete']);
    const out = path.join(cluster.root, 'out');

    const run = await cluster.runFleet(['backup', '--out-dir', out, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const doc = parse(run.stdout);
    expect(doc.selector).toBe(
      'node-role.kubernetes.io/control-plane or node-role.kubernetes.io/master',
    );
    expect(doc.nodes.map((n) => n.node)).toEqual(['cp1', 'cp2', 'cp3']);
    expect(trapConnections).toBe(0);
    for (const n of nodes) await expectDownloaded(out, n, byNode(doc)[n.name]);
    // The human table: one row per node with phase, files, short sha256, start, end.
    expect(run.stderr).toMatch(
      /^cp2\s+Succeeded\s+21\s+\S+ KiB\s+[0-9a-f]{12}\s+\d{4}-\S+\s+\d{4}-\S+\s+\d+\.\ds$/m,
    );

    // A second run into the same directory is refused before any backup starts; nothing is overwritten.
    const before = await readFile(path.join(out, 'cp1', archiveName(byNode(doc).cp1)));
    const posts = cluster.api.accessReviews.length;
    const again = await cluster.runFleet(['backup', '--out-dir', out, '--json']);
    expect(again.code).toBe(1);
    const second = byNode(parse(again.stdout));
    for (const n of nodes)
      expect(second[n.name]).toMatchObject({ ok: false, error: { code: 'OUT_FILE_EXISTS' } });
    expect(second.cp1?.job).toBeUndefined();
    expect(cluster.api.accessReviews.length).toBe(posts);
    expect(await readFile(path.join(out, 'cp1', archiveName(byNode(doc).cp1)))).toEqual(before);
    expect(again.stderr).toMatch(/failed on 3 of 3 nodes/);
  });

  it('takes control-plane and master nodes together; a missing or unready agent and a denied node fail, by name, with the 403', async () => {
    await Promise.all([
      // A half-relabelled cluster: m1 has the new role label only, the others the old one.
      cluster.addNode({ name: 'm1', labels: cp }, bundle),
      cluster.addNode({ name: 'm2', labels: master }, bundle),
    ]);
    await cluster.addNode({ name: 'm3', labels: master, agent: false }, bundle);
    await cluster.addNode({ name: 'm4', labels: master, agent: false }, bundle);
    cluster.setPod('m3', { ready: false, port: 1 });
    cluster.allow('backups', ['create', 'get', 'delete'], ['m1']);

    const run = await cluster.runFleet(['backup', '--json']);
    expect(run.code).toBe(1);
    const doc = parse(run.stdout);
    expect(doc.selector).toBe(
      'node-role.kubernetes.io/control-plane or node-role.kubernetes.io/master',
    );
    expect(run.stderr).toMatch(
      /^node-ca fleet backup: 4 nodes \(node-role.kubernetes.io\/control-plane or node-role.kubernetes.io\/master\): m1, m2, m3, m4$/m,
    );
    const r = byNode(doc);
    expect(Object.keys(r)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(r.m1).toMatchObject({ ok: true, job: { phase: 'Succeeded' } });
    expect(r.m2).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', status: 403 } });
    expect(r.m3).toMatchObject({ ok: false, error: { code: 'AGENT_NOT_READY' } });
    expect(r.m4).toMatchObject({ ok: false, error: { code: 'AGENT_MISSING' } });
    expect(doc.failedNodes).toEqual(['m2', 'm3', 'm4']);
    expect(run.stderr).toMatch(/^m2\s+-.*HTTP 403 FORBIDDEN/m);
    expect(run.stderr).toMatch(/failed on 3 of 4 nodes: m2, m3, m4/);
  });
});
