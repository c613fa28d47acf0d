import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/lib/metrics.js';
import { pullErrorCodes } from '../../../src/pull/classify.js';

describe('labelled counters exist from the start', () => {
  // `increase()` needs a sample before the first failure, or an alert on it never fires.
  it.each(['Succeeded', 'Failed', 'Canceled'])('node_ca_backups_total{phase="%s"} is 0 before any backup', async (phase) => {
    const text = await createMetrics().registry.metrics();
    expect(text).toContain(`node_ca_backups_total{phase="${phase}"} 0`);
  });

  it.each(['ok', ...pullErrorCodes])('node_ca_pull_checks_total{result="%s"} is 0 before any pull check', async (result) => {
    const text = await createMetrics().registry.metrics();
    expect(text).toContain(`node_ca_pull_checks_total{result="${result}"} 0`);
  });

  it('counts from 0 once used', async () => {
    const metrics = createMetrics();
    metrics.backupsTotal.inc({ phase: 'Failed' });
    const text = await metrics.registry.metrics();
    expect(text).toContain('node_ca_backups_total{phase="Failed"} 1');
    expect(text).toContain('node_ca_backups_total{phase="Succeeded"} 0');
    expect(text).not.toMatch(/node_ca_backups_total\{phase="(Pending|Running|Verifying)"\}/);
  });
});
