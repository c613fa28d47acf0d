#!/usr/bin/env node
// Idle RSS of an agent on a node that holds a backup source: such an agent
// loads the backup pipeline (execa, the tar parser) at start, so a backup
// does not spend the time. Starts the agent (image node flags) with an
// existing, empty source directory, --starts times, and prints VmRSS right
// after start and 8 s later, and VmHWM. Target: the idle agent's 80 MiB.
// Usage (after `npm run build`): node bench/backup-idle-rss.mjs [--starts 3]
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { report, rssMiB, shippedNodeFlags, startBackupAgent } from './lib.mjs';

const { values: opts } = parseArgs({ options: { starts: { type: 'string', default: '3' } } });
const cli = path.resolve(import.meta.dirname, '../dist/cli/main.js');
const nodeFlags = await shippedNodeFlags();
const base = await mkdtemp('/var/tmp/node-ca-idle-rss-');
const src = path.join(base, 'src');
await mkdir(src);
const runs = [];
try {
  for (let i = 0; i < Number(opts.starts); i++) {
    const { child } = await startBackupAgent({ base, src, cli, nodeFlags });
    try {
      const started = await rssMiB(child.pid);
      await sleep(8000);
      runs.push({ started, idle: await rssMiB(child.pid), peak: await rssMiB(child.pid, 'VmHWM') });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
} finally {
  await rm(base, { recursive: true, force: true });
}
const fmt = (k) => runs.map((r) => r[k].toFixed(1)).join(', ');
report('backup-idle-rss', { nodeFlags, runs }, `agent with a backup source: RSS after start ${fmt('started')} MiB, 8 s later ${fmt('idle')} MiB (target <= 80), peak ${fmt('peak')} MiB`);
