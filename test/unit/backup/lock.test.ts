import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackupLock } from '../../../src/backup/lock.js';

describe('backup lock (one backup per node across processes)', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'node-ca-lock-'));
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const lockFile = () => path.join(dir, 'backup.lock');

  it('is taken with the pid already in the file, and leaves no temp file behind', async () => {
    const lock = createBackupLock(dir);
    expect(await lock.acquire()).toBeUndefined();
    expect(await readFile(lockFile(), 'utf8')).toBe(String(process.pid));
    expect(await readdir(dir)).toEqual(['backup.lock']);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('answers the pid of another live holder and leaves its lock alone', async () => {
    const other = spawn('sleep', ['60']);
    children.push(other);
    await writeFile(lockFile(), String(other.pid));
    const lock = createBackupLock(dir);
    expect(await lock.acquire()).toBe(other.pid);
    expect(await lock.holder()).toBe(other.pid);
    expect(await readFile(lockFile(), 'utf8')).toBe(String(other.pid));
  });

  it('takes over a lock whose owner is gone, or that a crash left empty', async () => {
    const dead = spawn('true');
    await new Promise((resolve) => dead.on('exit', resolve));
    for (const stale of [String(dead.pid), '']) {
      await writeFile(lockFile(), stale);
      const lock = createBackupLock(dir);
      expect(await lock.acquire(), JSON.stringify(stale)).toBeUndefined();
      expect(await readFile(lockFile(), 'utf8')).toBe(String(process.pid));
      await lock.release();
    }
  });
});
