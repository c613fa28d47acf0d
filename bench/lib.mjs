// Small helpers shared by the bench scripts.
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

/** The median; for an even count, the mean of the two middle values. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const m = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

/** Resident set size of a process, MiB (VmRSS), or its peak (VmHWM). */
export async function rssMiB(pid, field = 'VmRSS') {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return kb / 1024;
}

/**
 * The node flags the image starts the agent with: the words between `node`
 * and the script in the Dockerfile's ENTRYPOINT, so a bench measures the
 * agent as shipped.
 */
export async function shippedNodeFlags() {
  const dockerfile = await readFile(new URL('../Dockerfile', import.meta.url), 'utf8');
  const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1] ?? '[]');
  const node = entrypoint.indexOf('node');
  if (node < 0) throw new Error('Dockerfile: no exec-form ENTRYPOINT running node');
  return entrypoint.slice(node + 1, -1);
}

/** Prints the figures as one JSON line and one human line. */
export function report(name, figures, human) {
  process.stdout.write(`${JSON.stringify({ bench: name, ...figures })}\n${human}\n`);
}

/**
 * A backup agent on loopback (no TLS, no auth, no trust targets) whose only
 * source, `minio`, is `src`; archives go to `base/out`. Resolves with the
 * child and its URL once it logs that it started.
 */
export async function startBackupAgent({ base, src, cli, nodeFlags, env = {} }) {
  const config = path.join(base, 'agent.json');
  await mkdir(path.join(base, 'ca'), { recursive: true });
  await writeFile(config, JSON.stringify({
    nodeIP: '10.9.9.9',
    trust: { sourceDir: path.join(base, 'ca'), containerdCertsDir: '', dockerCertsDir: '' },
    hosts: { file: '' },
    server: { listen: '127.0.0.1:0', tls: { mode: 'disabled' }, auth: { mode: 'none' }, socket: '' },
    backup: { sources: { minio: src }, dir: path.join(base, 'out'), stateDir: path.join(base, 'state'), minFreePercent: 5 },
  }));
  const child = spawn(process.execPath, [...nodeFlags, cli, 'agent', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'], env: { PATH: process.env.PATH, NODE_NAME: 'bench', ...env } });
  const url = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => {
      try { const j = JSON.parse(l); if (j.msg === 'node-ca agent started') resolve(j.url); } catch { /* not JSON */ }
    });
    child.on('exit', () => reject(new Error('agent exited')));
  });
  return { child, url };
}

/**
 * One backup through the agent's API, polled every 50 ms. Returns the final
 * job, the wall time, and the phases as the poll sees them: the POST answers
 * after the first walk; Verifying starts when tar has ended. Throws unless
 * the job succeeded. The time ends at the job's completionTime (the agent
 * runs on this machine, on the same clock), not at the poll that sees it,
 * which is up to 50 ms later; the verify phase ends there too.
 */
export async function runBackup(url) {
  // The bench's own HTTP client loads on its first request: that is not the agent's time.
  await (await fetch(`${url}/healthz`)).text();
  const t0 = Date.now();
  const res = await fetch(`${url}/v1/backups`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  const job = await res.json();
  if (res.status !== 202) throw new Error(JSON.stringify(job));
  const tWalked = Date.now();
  let tVerifying;
  let done;
  for (;;) {
    done = await (await fetch(`${url}/v1/backups/${job.id}`)).json();
    if (done.phase === 'Verifying') tVerifying ??= Date.now();
    if (['Succeeded', 'Failed', 'Canceled'].includes(done.phase)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (done.phase !== 'Succeeded') throw new Error(JSON.stringify(done.error));
  const tDone = Date.parse(done.completionTime);
  tVerifying = Math.min(tVerifying ?? tDone, tDone);
  const phases = { walk: (tWalked - t0) / 1000, stream: (tVerifying - tWalked) / 1000, verify: (tDone - tVerifying) / 1000 };
  return { job: done, seconds: (tDone - t0) / 1000, phases };
}

/** A process's user + system CPU seconds, all its threads. */
export async function cpuSeconds(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
