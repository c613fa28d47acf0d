import type { CheckResult, CheckStatus } from './check.js';

/** `node-ca doctor --json` and `GET /v1/trust` (SPEC "Doctor checks"). */
export interface DoctorReport {
  /** False when any check failed; warnings alone keep it true. */
  readonly ok: boolean;
  readonly node: string;
  readonly checks: readonly CheckResult[];
}

const rank: Record<CheckStatus, number> = { fail: 0, warn: 1, ok: 2 };

/** Failures first, then warnings, then the rest, each group in the order the checks ran. */
export function buildReport(node: string, checks: readonly CheckResult[]): DoctorReport {
  const sorted = checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank[a.c.status] - rank[b.c.status] || a.i - b.i)
    .map(({ c }) => ({
      id: c.id,
      status: c.status,
      subject: c.subject,
      message: c.message,
      remedy: c.remedy,
    }));
  return { ok: !sorted.some((c) => c.status === 'fail'), node, checks: sorted };
}

const colours: Record<CheckStatus, string> = {
  fail: '\u001b[31m',
  warn: '\u001b[33m',
  ok: '\u001b[32m',
};
const reset = '\u001b[0m';
const dim = '\u001b[2m';

/**
 * The table a person reads at a glance: one row per check, failures first,
 * the remedy on its own line under a problem, a one-line summary at the end.
 * Colour only when asked (the CLI asks when stdout is a TTY).
 */
export function renderReportText(report: DoctorReport, options: { color: boolean }): string {
  const paint = (code: string, text: string) => (options.color ? `${code}${text}${reset}` : text);
  const idWidth = Math.max(5, ...report.checks.map((c) => c.id.length));
  const subjectWidth = Math.min(60, Math.max(7, ...report.checks.map((c) => c.subject.length)));
  const lines = [`STATUS  ${'CHECK'.padEnd(idWidth)}  ${'SUBJECT'.padEnd(subjectWidth)}  MESSAGE`];
  for (const c of report.checks) {
    const status = paint(colours[c.status], c.status.toUpperCase().padEnd(6));
    lines.push(
      `${status}  ${c.id.padEnd(idWidth)}  ${c.subject.padEnd(subjectWidth)}  ${c.message}`,
    );
    if (c.remedy !== '') lines.push(paint(dim, `${' '.repeat(8)}fix: ${c.remedy}`));
  }
  lines.push('', summaryLine(report));
  return `${lines.join('\n')}\n`;
}

export function summaryLine(report: DoctorReport): string {
  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  const verdict = report.ok ? 'no failures' : 'PROBLEMS FOUND';
  const warnings = count('warn');
  return `node ${report.node}: ${verdict} (${count('fail')} failed, ${warnings} warning${warnings === 1 ? '' : 's'}, ${count('ok')} ok)`;
}
