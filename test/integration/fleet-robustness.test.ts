import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
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

const deletes = () =>
  cluster.api.accessReviews.filter(
    (s) => (s as { resourceAttributes?: { verb?: string } }).resourceAttributes?.verb === 'delete',
  ).length;

describe('node-ca fleet backup, stopped or with changing credentials', () => {
  it('SIGTERM (a CI timeout, a Job stopped) cancels the running backups like Ctrl-C', async () => {
    const node = await cluster.addNode({ name: 'cp1', labels: cp, gateTar: true }, bundle);
    await fillSource(node);
    cluster.allow('backups', ['create', 'get', 'delete']);
    const fleet = cluster.startFleet(['backup', '--json']);
    await waitFor(() => fleet.stderrLines.some((l) => /^cp1\s+Running/.test(l)), {
      timeoutMs: 30_000,
      message: 'cp1 Running',
    });
    fleet.child.kill('SIGTERM');
    const run = await fleet.result;
    expect(run.code).toBe(143);
    expect(byNode(parse(run.stdout)).cp1).toMatchObject({ ok: false, job: { phase: 'Canceled' } });
    expect(deletes()).toBe(1);
    expect((await readdir(node.backupDir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('a refused DELETE is reported per node with the job still running there', async () => {
    const node = await cluster.addNode({ name: 'cp1', labels: cp, gateTar: true }, bundle);
    await fillSource(node);
    cluster.allow('backups', ['create', 'get']);
    const fleet = cluster.startFleet(['backup', '--json']);
    await waitFor(() => fleet.stderrLines.some((l) => /^cp1\s+Running/.test(l)), {
      timeoutMs: 30_000,
      message: 'cp1 Running',
    });
    const t0 = Date.now();
    fleet.child.kill('SIGINT');
    const run = await fleet.result;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(run.code).toBe(130);
    const r = byNode(parse(run.stdout)).cp1;
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN', status: 403 },
      job: { phase: 'Running' },
    });
    expect(r?.error?.message).toContain(`backup ${r?.job?.id ?? '?'} is still running on cp1`);
    await node.openTarGate?.();
  });

  it('obtains the token again when an agent answers 401 (the token expired mid-backup)', async () => {
    const node = await cluster.addNode({ name: 'cp1', labels: cp, gateTar: true }, bundle);
    await fillSource(node);
    cluster.allow('backups', ['create', 'get', 'delete']);
    const rotated = 'rotated-user';
    for (const verb of ['get', 'delete'])
      cluster.api.accessRules.push({ user: rotated, resource: 'backups', verb, group: 'node-ca.alauda.io' });
    const tokenFile = path.join(cluster.root, 'token');
    await writeFile(tokenFile, `${cluster.api.token}\n`);
    const fleet = cluster.startFleet(['backup', '--json', '--token-file', tokenFile]);
    await waitFor(() => fleet.stderrLines.some((l) => /^cp1\s+Running/.test(l)), {
      timeoutMs: 30_000,
      message: 'cp1 Running',
    });
    // The old token stops working (the agent notices when its 10 s cache expires); a new one is in the file.
    cluster.api.tokens.set('fresh-token', { username: rotated });
    await writeFile(tokenFile, 'fresh-token\n');
    cluster.api.tokens.delete(cluster.api.token);
    await waitFor(
      () => cluster.api.accessReviews.some((s) => (s as { user?: string }).user === rotated),
      { timeoutMs: 30_000, message: 'the agent sees the new token' },
    );
    await node.openTarGate?.();
    const run = await fleet.result;
    expect(run.code, run.stderr).toBe(0);
    expect(byNode(parse(run.stdout)).cp1).toMatchObject({ ok: true, job: { phase: 'Succeeded' } });
  });

  it('takes a kubeconfig token-file with a trailing newline, and never prints a token', async () => {
    await cluster.addNode({ name: 'n1' }, bundle);
    cluster.allow('status', ['get']);
    const tokenFile = path.join(cluster.root, 'kube-token');
    await writeFile(tokenFile, `${cluster.api.token}\n`);
    const kubeconfig = path.join(cluster.root, 'kubeconfig-token-file');
    const base = await readFile(cluster.api.kubeconfigPath, 'utf8');
    await writeFile(kubeconfig, base.replace(/token: .*/, `token-file: ${tokenFile}`));
    const run = await cluster.runFleet(['status', '--json'], { kubeconfig });
    expect(run.stderr).not.toContain(cluster.api.token);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ok: true, nodes: [{ node: 'n1', ok: true }] });
  });
});
