import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFleetCluster, type FleetCluster } from '../support/fleet-cluster.js';
import { makeCa } from '../support/pki.js';

const key = 'image-registry.image-registry-system.svc..5000';
const host = 'image-registry.image-registry-system.svc:5000';
const cp = { 'node-role.kubernetes.io/control-plane': '' };

interface StatusDoc {
  command: string;
  ok: boolean;
  failedNodes: string[];
  nodes: {
    node: string;
    ok: boolean;
    error?: { code: string; message: string };
    drift?: string[];
    registries?: number;
    fingerprints?: Record<string, string[]>;
  }[];
}

let cluster: FleetCluster;
beforeEach(async () => {
  cluster = await startFleetCluster();
});
afterEach(async () => {
  await cluster.close();
});

describe('node-ca fleet status', () => {
  it('shows every node, flags the one that missed a CA rotation and the node without an agent', async () => {
    const oldCa = makeCa('registry-ca-old');
    const newCa = makeCa('registry-ca-new', { keyIndex: 2 });
    const rotated = { [key]: oldCa.cert + newCa.cert };
    await Promise.all([
      cluster.addNode({ name: 'cp1', labels: cp }, rotated),
      cluster.addNode({ name: 'cp2', labels: cp }, rotated),
      cluster.addNode({ name: 'cp3', labels: cp }, { [key]: oldCa.cert }),
      cluster.addNode({ name: 'w1', agent: false }, rotated),
    ]);
    cluster.allow('status', ['get']);

    const run = await cluster.runFleet(['status', '--json']);
    const verified = await cluster.runFleet(['status', '--json', '--ca-file', cluster.caFile]);
    expect(verified.stderr).not.toMatch(/not verified/);
    expect(JSON.parse(verified.stdout)).toMatchObject({ failedNodes: ['cp3', 'w1'] });
    expect(run.code, run.stderr).toBe(1);
    const doc = JSON.parse(run.stdout) as StatusDoc;
    expect(doc.command).toBe('status');
    expect(doc.nodes.map((n) => n.node)).toEqual(['cp1', 'cp2', 'cp3', 'w1']);
    expect(doc.failedNodes).toEqual(['cp3', 'w1']);
    const byNode = Object.fromEntries(doc.nodes.map((n) => [n.node, n]));
    expect(byNode.cp1).toMatchObject({ ok: true, registries: 1, drift: [] });
    expect(byNode.cp1?.fingerprints?.[host]).toHaveLength(2);
    expect(byNode.cp3).toMatchObject({ ok: false, drift: [host], error: { code: 'CA_DRIFT' } });
    expect(byNode.w1).toMatchObject({ ok: false, error: { code: 'AGENT_MISSING' } });
    // Human table on stderr when stdout carries JSON; the self-signed note once.
    expect(run.stderr).toMatch(/^cp3\s+yes\s+\S+\s+1\s+\S+\s+DRIFT image-registry/m);
    expect(run.stderr.match(/not verified/g)).toHaveLength(1);
    expect(run.stderr).toMatch(/failed on 2 of 4 nodes: cp3, w1/);
  });

  it('prints the table on stdout without --json and exits 0 when all agree (agents with their own self-signed certificates)', async () => {
    await cluster.close();
    cluster = await startFleetCluster({ tls: 'self-signed' });
    const ca = makeCa('registry-ca');
    await Promise.all([
      cluster.addNode({ name: 'a' }, { [key]: ca.cert }),
      cluster.addNode({ name: 'b' }, { [key]: ca.cert }),
    ]);
    cluster.allow('status', ['get']);
    const run = await cluster.runFleet(['status', '--nodes', 'a,b']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^NODE\s+READY\s+LAST SYNC\s+REGISTRIES\s+CA FINGERPRINTS\s+FLAG$/m);
    expect(run.stdout).toMatch(/^a\s+yes\s+\d{4}-\S+\s+1\s+image-registry\S+=[0-9a-f]{8}$/m);
  });
});
