import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHostsManager, type ServiceSource } from '../../../src/hosts/manager.js';
import { noEvents } from '../../../src/lib/events.js';
import { createLogger } from '../../../src/lib/logger.js';
import { createMetrics } from '../../../src/lib/metrics.js';

const ref = { namespace: 'image-registry-system', name: 'image-registry' };
const names =
  'image-registry.image-registry-system.svc image-registry.image-registry-system.svc.cluster.local';
const line = (ip: string) => `${ip} ${names} # node-ca`;

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-hosts-manager-'));
  file = path.join(dir, 'hosts');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A manager for one mapped Service; its clock ticks one second per reading, so each write has its own time. */
function managerFor(ips: string[]) {
  const source: ServiceSource = {
    ref,
    synced: () => true,
    current: () => ({ spec: { clusterIPs: ips } }),
  };
  let tick = 0;
  return createHostsManager({
    file,
    clusterDomain: 'cluster.local',
    sources: [source],
    logger: createLogger({ level: 'silent' }),
    metrics: createMetrics(),
    events: noEvents,
    now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, (tick += 1))),
  });
}

const identity = async () => {
  const st = await stat(file);
  return { ino: st.ino, mtimeMs: st.mtimeMs };
};

describe('hosts manager: the file line endings', () => {
  it('writes CRLF lines into a CRLF file, then leaves it alone on the next passes', async () => {
    const crlf = '127.0.0.1 localhost\r\n::1 localhost\r\n';
    await writeFile(file, crlf);
    const hosts = managerFor(['10.0.0.1', 'fd00::1']);
    await hosts.reconcile();
    expect(await readFile(file, 'latin1')).toBe(
      `${crlf}${line('10.0.0.1')}\r\n${line('fd00::1')}\r\n`,
    );
    const written = hosts.status().lastWrite;
    expect(written?.mode).toBe('rename');
    const before = await identity();
    await hosts.reconcile();
    await hosts.reconcile();
    expect(await identity()).toEqual(before);
    expect(hosts.status().lastWrite).toEqual(written);
    expect(hosts.status().entries.map((e) => e.ip)).toEqual(['10.0.0.1', 'fd00::1']);
  });

  it('does not rewrite a CRLF file whose node-ca lines are already right', async () => {
    const current = `127.0.0.1 localhost\r\n${line('10.0.0.1')}\r\n# admin\r\n`;
    await writeFile(file, current);
    const before = await identity();
    const hosts = managerFor(['10.0.0.1']);
    await hosts.reconcile();
    expect(hosts.status().errors).toEqual([]);
    expect(hosts.status().lastWrite).toBeNull();
    expect(await identity()).toEqual(before);
    expect(await readFile(file, 'latin1')).toBe(current);
    expect(hosts.status().entries).toEqual([{ ip: '10.0.0.1', names: names.split(' ') }]);
  });

  it('writes LF lines into an LF file, then leaves it alone', async () => {
    await writeFile(file, '127.0.0.1 localhost\n');
    const hosts = managerFor(['10.0.0.1']);
    await hosts.reconcile();
    expect(await readFile(file, 'latin1')).toBe(`127.0.0.1 localhost\n${line('10.0.0.1')}\n`);
    const before = await identity();
    const written = hosts.status().lastWrite;
    await hosts.reconcile();
    expect(await identity()).toEqual(before);
    expect(hosts.status().lastWrite).toEqual(written);
  });
});
