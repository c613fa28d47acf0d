import type { AgentBackupJob } from './agent-api.js';
import { formatBytes } from './tables.js';

interface NodeProgress {
  job: AgentBackupJob;
  note: string;
  /** Bytes per second over the last samples. */
  rate: number;
  sampleBytes: number;
  sampleTime: number;
}

const finished = new Set(['Succeeded', 'Failed', 'Canceled']);

/** One line for a node: phase, a bar, bytes done of total, rate, files. */
export function formatProgressLine(
  node: string,
  width: number,
  p: Pick<NodeProgress, 'job' | 'rate' | 'note'>,
): string {
  const { progress, phase } = p.job;
  const total = progress.bytesTotal;
  const ratio = total > 0 ? Math.min(1, progress.bytesDone / total) : phase === 'Succeeded' ? 1 : 0;
  const bar = '#'.repeat(Math.round(ratio * 20)).padEnd(20, '.');
  const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
  const bytes = `${formatBytes(progress.bytesDone)}/${formatBytes(total)}`;
  const rate = p.rate > 0 && !finished.has(phase) ? ` ${formatBytes(p.rate)}/s` : '';
  const files = ` files ${progress.filesDone}/${progress.filesTotal}`;
  return `${node.padEnd(width)}  ${phase.padEnd(9)} [${bar}] ${pct} ${bytes}${rate}${files}${p.note === '' ? '' : ` ${p.note}`}`;
}

export interface ProgressView {
  update(node: string, job: AgentBackupJob): void;
  note(node: string, text: string): void;
  /** Draws the last state and stops the timer. */
  close(): void;
}

/**
 * Live per-node progress. On a TTY the block of lines is redrawn in place;
 * otherwise (a CI log, a pipe) a node's line is printed when its phase
 * changes and at most every `intervalMs` while it runs.
 */
export function createProgressView(
  out: NodeJS.WritableStream & { isTTY?: boolean },
  nodes: readonly string[],
  options: { intervalMs?: number; now?: () => number } = {},
): ProgressView {
  const now = options.now ?? Date.now;
  const tty = out.isTTY === true;
  const width = Math.max(4, ...nodes.map((n) => n.length));
  const state = new Map<string, NodeProgress>();
  let drawn = 0;
  let closed = false;
  const lineOf = (node: string) => {
    const p = state.get(node);
    return p === undefined ? `${node.padEnd(width)}  waiting` : formatProgressLine(node, width, p);
  };
  const redraw = () => {
    const up = drawn > 0 ? `\x1b[${drawn}A` : '';
    out.write(up + nodes.map((n) => `\x1b[2K${lineOf(n)}\n`).join(''));
    drawn = nodes.length;
  };
  // Periodic lines only for jobs still moving; a finished one was printed when its phase changed.
  const printRunning = () => {
    for (const [node, p] of state) if (!finished.has(p.job.phase)) out.write(`${lineOf(node)}\n`);
  };
  const timer = setInterval(
    tty ? redraw : printRunning,
    tty ? 250 : (options.intervalMs ?? 10_000),
  );
  timer.unref();
  return {
    update(node, job) {
      const t = now();
      const prev = state.get(node);
      const p: NodeProgress = prev ?? {
        job,
        note: '',
        rate: 0,
        sampleBytes: job.progress.bytesDone,
        sampleTime: t,
      };
      if (prev !== undefined && t - prev.sampleTime >= 1000) {
        p.rate = ((job.progress.bytesDone - prev.sampleBytes) * 1000) / (t - prev.sampleTime);
        p.sampleBytes = job.progress.bytesDone;
        p.sampleTime = t;
      }
      const phaseChanged = prev?.job.phase !== job.phase;
      p.job = job;
      state.set(node, p);
      if (!tty && phaseChanged) out.write(`${lineOf(node)}\n`);
    },
    note(node, text) {
      const p = state.get(node);
      if (p === undefined) return;
      p.note = text;
      if (!tty && text !== '') out.write(`${lineOf(node)}\n`);
    },
    close() {
      // Once only: a redraw after the caller printed its table would move the cursor up into it.
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (tty) redraw();
    },
  };
}
