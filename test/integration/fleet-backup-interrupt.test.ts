import { readdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  startFleetWithBundle,
  controlPlane as cp,
  fillMinioSource as fillSource,
  parseBackupDoc as parse,
  backupDocByNode as byNode,
  type FleetCluster,
} from '../support/fleet-cluster.js';
import { waitFor } from '../support/poll.js';


let cluster: FleetCluster;
let bundle: Record<string, string>;

beforeEach(async () => {
  ({ cluster, bundle } = await startFleetWithBundle());
});
afterEach(async () => {
  await cluster.close();
});

describe('node-ca fleet backup, interrupted', () => {
  it('reports a node whose agent dies mid-backup; the others finish', async () => {
    const [a, b] = await Promise.all([
      cluster.addNode({ name: 'cp1', labels: cp }, bundle),
      cluster.addNode({ name: 'cp2', labels: cp, gateTar: true }, bundle),
    ]);
    for (const n of [a, b]) await fillSource(n);
    cluster.allow('backups', ['create', 'get', 'delete']);
    const fleet = cluster.startFleet(['backup', '--json']);
    await waitFor(() => fleet.stderrLines.some((l) => /^cp2\s+Running/.test(l)), {
      timeoutMs: 30_000,
      message: 'cp2 Running',
    });
    await b.agent?.stop('SIGKILL');
    const run = await fleet.result;
    expect(run.code).toBe(1);
    const r = byNode(parse(run.stdout));
    expect(r.cp1).toMatchObject({ ok: true, job: { phase: 'Succeeded' } });
    expect(r.cp2).toMatchObject({
      ok: false,
      error: { code: 'UNREACHABLE' },
      job: { phase: 'Running' },
    });
    expect(run.stderr).toMatch(/failed on 1 of 2 nodes: cp2/);
  });

  it('Ctrl-C cancels the running backups with DELETE before exiting', async () => {
    const nodes = await Promise.all(
      ['cp1', 'cp2'].map((name) => cluster.addNode({ name, labels: cp, gateTar: true }, bundle)),
    );
    for (const n of nodes) await fillSource(n);
    cluster.allow('backups', ['create', 'get', 'delete']);
    const fleet = cluster.startFleet(['backup', '--json']);
    await waitFor(
      () =>
        ['cp1', 'cp2'].every((n) =>
          fleet.stderrLines.some((l) => new RegExp(`^${n}\\s+Running`).test(l)),
        ),
      { timeoutMs: 30_000, message: 'both Running' },
    );
    fleet.child.kill('SIGINT');
    const run = await fleet.result;
    expect(run.code).toBe(130);
    const r = byNode(parse(run.stdout));
    for (const n of nodes) {
      expect(r[n.name]).toMatchObject({ ok: false, job: { phase: 'Canceled' } });
      expect((await readdir(n.backupDir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
    }
    expect(
      cluster.api.accessReviews.filter(
        (s) =>
          (s as { resourceAttributes?: { verb?: string } }).resourceAttributes?.verb === 'delete',
      ),
    ).toHaveLength(2);
  });
});
