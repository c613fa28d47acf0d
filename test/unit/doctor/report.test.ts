import { describe, expect, it } from 'vitest';
import { fail, ok, warn } from '../../../src/doctor/check.js';
import { buildReport, renderReportText } from '../../../src/doctor/report.js';

const checks = [
  ok('a.ok', 's1', 'fine'),
  warn('b.warn', 's2', 'meh', 'do x'),
  fail('c.fail', 's3', 'broken', 'run y'),
  ok('d.ok', 's4', 'fine'),
];

describe('doctor report', () => {
  it('puts failures first, then warnings, keeping the run order within each', () => {
    expect(buildReport('n1', checks).checks.map((c) => c.id)).toEqual([
      'c.fail',
      'b.warn',
      'a.ok',
      'd.ok',
    ]);
  });
  it('is ok unless something fails (warnings keep it ok)', () => {
    expect(buildReport('n1', checks).ok).toBe(false);
    expect(
      buildReport(
        'n1',
        checks.filter((c) => c.status !== 'fail'),
      ).ok,
    ).toBe(true);
  });
  it('has exactly the SPEC fields', () => {
    const r = buildReport('n1', checks);
    expect(Object.keys(r)).toEqual(['ok', 'node', 'checks']);
    expect(Object.keys(r.checks[0] ?? {})).toEqual([
      'id',
      'status',
      'subject',
      'message',
      'remedy',
    ]);
  });
  it('renders a table with remedies under problems, colour only when asked', () => {
    const plain = renderReportText(buildReport('n1', checks), { color: false });
    const lines = plain.split('\n');
    expect(lines[0]).toMatch(/^STATUS\s+CHECK\s+SUBJECT\s+MESSAGE$/);
    expect(lines[1]).toMatch(/^FAIL\s+c\.fail\s+s3\s+broken$/);
    expect(lines[2]).toBe('        fix: run y');
    expect(plain).not.toContain('\u001b[');
    expect(plain).toContain('node n1: PROBLEMS FOUND (1 failed, 1 warning, 2 ok)');
    expect(renderReportText(buildReport('n1', checks), { color: true })).toContain(
      '\u001b[31mFAIL',
    );
  });
});
