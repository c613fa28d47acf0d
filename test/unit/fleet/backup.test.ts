import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentBackupJob, AgentClient } from '../../../src/fleet/agent-api.js';
import { AgentCallError } from '../../../src/fleet/agent-client.js';
import { runFleetBackup } from '../../../src/fleet/backup.js';

function job(id: string, phase: AgentBackupJob['phase'], over: Partial<AgentBackupJob> = {}) {
  return {
    id,
    node: 'n',
    source: 'minio',
    archivePath: `/backup/${id}.tar`,
    phase,
    startTime: new Date().toISOString(),
    progress: { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 },
    archive: { bytes: 1, sha256: 'x' },
    ...over,
  } satisfies AgentBackupJob;
}

const unused = () => Promise.reject(new Error('not expected'));

/** A fake agent: every method rejects unless given. */
function fake(node: string, over: Partial<AgentClient>): AgentClient {
  return {
    node,
    url: `https://${node}`,
    status: unused,
    startBackup: unused,
    getBackup: unused,
    listBackups: unused,
    cancelBackup: unused,
    openArchive: unused,
    pullCheck: unused,
    ...over,
  };
}

describe('runFleetBackup', () => {
  it('starts every node at once even when --concurrency bounds the downloads', async () => {
    const events: string[] = [];
    const client = (node: string) =>
      fake(node, {
        startBackup: async () => {
          events.push(`start ${node}`);
          return job(node, 'Succeeded');
        },
        openArchive: async () => {
          events.push(`download ${node}`);
          await new Promise((r) => setTimeout(r, 50));
          throw new AgentCallError('UNREACHABLE', 'gone');
        },
      });
    const results = await runFleetBackup([client('a'), client('b'), client('c')], {
      outDir: '/nonexistent-out',
      concurrency: 1,
      pollMs: 1,
    });
    expect(results.map((r) => r.ok)).toEqual([false, false, false]);
    // All three start before the first download; downloads one at a time.
    expect(events.slice(0, 3).sort()).toEqual(['start a', 'start b', 'start c']);
  });

  it('reports a refused DELETE on Ctrl-C with its code and the job still running, at once', async () => {
    const controller = new AbortController();
    const client = fake('a', {
      startBackup: async () => job('j1', 'Running'),
      getBackup: async () => {
        controller.abort();
        return job('j1', 'Running');
      },
      cancelBackup: () =>
        Promise.reject(new AgentCallError('FORBIDDEN', 'HTTP 403 FORBIDDEN: no delete', 403)),
    });
    const t0 = Date.now();
    const [r] = await runFleetBackup([client], { signal: controller.signal, pollMs: 1 });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(r).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN', status: 403 },
      value: { job: { id: 'j1', phase: 'Running' } },
    });
    expect(r?.ok === false && r.error.message).toMatch(/backup j1 is still running on a/);
  });

  it('says the job may still run, with its id, when it stops following a node', async () => {
    const client = fake('a', {
      startBackup: async () => job('j2', 'Running'),
      getBackup: () => Promise.reject(new AgentCallError('UNREACHABLE', 'a: ECONNREFUSED')),
    });
    const [r] = await runFleetBackup([client], { pollMs: 1 });
    expect(r).toMatchObject({ ok: false, error: { code: 'UNREACHABLE' } });
    expect(r?.ok === false && r.error.message).toMatch(/backup j2, which may still be running on a/);
  });

  it('finds and follows the job when the POST outlives fleet’s wait', async () => {
    const client = fake('a', {
      startBackup: () => Promise.reject(new AgentCallError('FLEET_TIMEOUT', 'no answer')),
      listBackups: async () => [
        job('old', 'Succeeded', { startTime: new Date(Date.now() - 3_600_000).toISOString() }),
        job('j3', 'Running'),
      ],
      getBackup: async (id) => job(id, 'Succeeded'),
    });
    const [r] = await runFleetBackup([client], { pollMs: 1 });
    expect(r).toMatchObject({ ok: true, value: { job: { id: 'j3', phase: 'Succeeded' } } });
  });

  it('reports FLEET_TIMEOUT, not the agent’s TIMEOUT, when no job can be found', async () => {
    const client = fake('a', {
      startBackup: () => Promise.reject(new AgentCallError('FLEET_TIMEOUT', 'no answer')),
      listBackups: () => Promise.reject(new AgentCallError('FORBIDDEN', 'no list', 403)),
    });
    const [r] = await runFleetBackup([client], { pollMs: 1 });
    expect(r).toMatchObject({ ok: false, error: { code: 'FLEET_TIMEOUT' } });
    expect(r?.ok === false && r.error.message).toMatch(/may be running on a/);
  });
});

describe('runFleetBackup --out-dir', () => {
  it('refuses an out dir already in use before starting any backup', async () => {
    const out = await mkdtemp(path.join(tmpdir(), 'fleet-out-'));
    try {
      await mkdir(path.join(out, 'a'));
      await writeFile(path.join(out, 'a', '10.0.0.1-minio.tar'), 'old');
      let starts = 0;
      const client = (node: string) =>
        fake(node, {
          startBackup: async () => {
            starts += 1;
            return job(node, 'Succeeded');
          },
        });
      const results = await runFleetBackup([client('a'), client('b')], { outDir: out });
      expect(starts).toBe(0);
      expect(results).toMatchObject([
        { node: 'a', ok: false, error: { code: 'OUT_FILE_EXISTS' } },
        { node: 'b', ok: false, error: { code: 'NOT_STARTED' } },
      ]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
