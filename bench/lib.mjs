// Small helpers shared by the bench scripts.
import { readFile } from 'node:fs/promises';

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
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
