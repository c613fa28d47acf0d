import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import type { AgentBackupJob } from '../../../src/fleet/agent-api.js';
import { createProgressView } from '../../../src/fleet/progress.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const out = Object.assign(
    new Writable({
      write(c: Buffer, _e, done) {
        chunks.push(c.toString());
        done();
      },
    }),
    { isTTY },
  );
  return { out, text: () => chunks.join('') };
}

const job = (phase: AgentBackupJob['phase'], bytesDone: number): AgentBackupJob => ({
  id: 'j',
  node: 'n',
  source: 'minio',
  archivePath: '/x.tar',
  phase,
  startTime: '',
  progress: { bytesDone, bytesTotal: 1000, filesDone: 1, filesTotal: 2 },
});

describe('createProgressView', () => {
  it('without a TTY prints a node line on each phase change, not on every poll', () => {
    const { out, text } = sink(false);
    const view = createProgressView(out, ['cp1', 'cp2'], { intervalMs: 60_000 });
    view.update('cp1', job('Running', 100));
    view.update('cp1', job('Running', 200));
    view.update('cp1', job('Succeeded', 1000));
    view.close();
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^cp1\s+Running\s+\[##\.+\]\s+10%/);
    expect(lines[1]).toMatch(/^cp1\s+Succeeded\s+\[#{20}\] 100%/);
    expect(text()).not.toContain('\x1b[');
  });

  it('on a TTY draws the block of node lines, and nothing more after close', () => {
    const { out, text } = sink(true);
    const view = createProgressView(out, ['cp1', 'cp2']);
    view.update('cp2', job('Running', 500));
    view.close();
    const drawn = text();
    view.close();
    expect(text()).toBe(drawn);
    expect(text()).toMatch(/cp1\s+waiting/);
    expect(text()).toMatch(/cp2\s+Running\s+\[#{10}\.{10}\]\s+50%/);
  });

  it('on a TTY redraws the same lines in place (cursor up), with the rate once bytes move', () => {
    vi.useFakeTimers();
    try {
      const { out, text } = sink(true);
      let now = 0;
      const view = createProgressView(out, ['cp1'], { now: () => now });
      view.update('cp1', job('Running', 0));
      vi.advanceTimersByTime(250);
      now = 2000;
      view.update('cp1', job('Running', 600));
      view.close();
      expect(text().split('\x1b[1A')).toHaveLength(2);
      expect(text()).toMatch(/60% 600 B\/1000 B 300 B\/s files 1\/2\n$/);
    } finally {
      vi.useRealTimers();
    }
  });
});
