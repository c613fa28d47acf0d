import { lstat, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeHostsLines } from '../../../src/hosts/cleanup.js';
import { mergeHostsFile } from '../../../src/hosts/hosts-file.js';
import { planServiceHosts } from '../../../src/hosts/plan.js';
import { readHostsFile, writeHostsFile } from '../../../src/hosts/writer.js';

const plan = planServiceHosts(
  { namespace: 'image-registry-system', name: 'image-registry' },
  { synced: true, service: { spec: { clusterIPs: ['10.0.0.1'] } } },
  'cluster.local',
);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-hosts-writer-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the hosts file on disk', () => {
  it('keeps bytes that are not UTF-8 exactly, adding and removing the lines', async () => {
    const file = path.join(dir, 'hosts');
    // A latin1 comment (0xe9) and an invalid UTF-8 sequence, no final newline.
    const original = Buffer.concat([Buffer.from('127.0.0.1 localhost\n# caf'), Buffer.from([0xe9, 0x20, 0xc3, 0x28]), Buffer.from('\n10.1.1.1 h1')]);
    await writeFile(file, original);
    await writeHostsFile(file, mergeHostsFile(await readHostsFile(file), [plan]));
    const added = await readFile(file);
    expect(added.subarray(0, original.length)).toEqual(original);
    expect(added.subarray(original.length).toString('latin1')).toMatch(/^\n10\.0\.0\.1 image-registry\.image-registry-system\.svc .* # node-ca$/);
    expect(await removeHostsLines(file)).toHaveLength(1);
    expect(await readFile(file)).toEqual(original);
  });

  it('follows a CRLF file: CRLF lines in, then out with cleanup, giving the original bytes back', async () => {
    const file = path.join(dir, 'hosts');
    const original = '127.0.0.1 localhost\r\n# admin, no final newline';
    await writeFile(file, original, 'latin1');
    await writeHostsFile(file, mergeHostsFile(await readHostsFile(file), [plan]));
    const added = await readFile(file, 'latin1');
    expect(added).toMatch(/^127\.0\.0\.1 localhost\r\n# admin, no final newline\r\n10\.0\.0\.1 .* # node-ca$/);
    expect(added.match(/(?<!\r)\n/g)).toBeNull();
    expect(await removeHostsLines(file)).toHaveLength(1);
    expect(await readFile(file, 'latin1')).toBe(original);
  });

  it('writes through a symlink to its target and keeps the link', async () => {
    const target = path.join(dir, 'hosts.real');
    const link = path.join(dir, 'hosts');
    await writeFile(target, '127.0.0.1 localhost\n');
    await symlink('hosts.real', link);
    expect(await writeHostsFile(link, mergeHostsFile(await readHostsFile(link), [plan]))).toBe('rename');
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe('hosts.real');
    expect(await readFile(target, 'utf8')).toMatch(/^127\.0\.0\.1 localhost\n10\.0\.0\.1 .* # node-ca\n$/);
  });

  it('creates a missing file', async () => {
    const file = path.join(dir, 'hosts');
    await writeHostsFile(file, 'x\n');
    expect(await readFile(file, 'utf8')).toBe('x\n');
    expect((await lstat(file)).mode & 0o777).toBe(0o644);
  });
});
