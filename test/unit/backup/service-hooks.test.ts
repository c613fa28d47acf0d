import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createBackupService } from '../../../src/backup/service.js';
import { createLogger } from '../../../src/lib/logger.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-service-'));
  await mkdir(path.join(root, 'src', 'd'), { recursive: true });
  await writeFile(path.join(root, 'src', 'd', 'a'), 'some bytes');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('backup service: onJobEnd', () => {
  // The agent's heap trimmer hangs on this hook; real GNU tar runs the job.
  it('is told once when a job ends, whether it succeeded or was canceled', async () => {
    let ended = 0;
    const backups = await createBackupService({
      config: {
        nodeName: 'n1',
        nodeIP: '10.1.2.3',
        backup: { sources: { minio: path.join(root, 'src') }, dir: path.join(root, 'out'), stateDir: path.join(root, 'state'), minFreePercent: 0 },
      },
      logger: createLogger({ level: 'silent' }),
      onJobEnd: () => {
        ended += 1;
      },
    });
    const first = await backups.start({});
    expect(ended).toBe(0);
    const done = await backups.wait(first.id);
    expect(done?.phase).toBe('Succeeded');
    expect(ended).toBe(1);
    expect((await readFile(`${done?.archivePath ?? ''}.manifest`, 'utf8')).trim()).toMatch(/^[0-9a-f]{64} {2}.*\/src\/d\/a$/);
    const second = await backups.start({});
    const canceled = await backups.cancel(second.id);
    expect(canceled?.phase === 'Canceled' || canceled?.phase === 'Succeeded').toBe(true);
    expect(ended).toBe(2);
    await backups.stop();
  });
});
