/** How a check came out: `fail` makes the report not ok, `warn` does not. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the doctor report (SPEC "Doctor checks"; the `--json` shape). */
export interface CheckResult {
  /** Stable identifier of the check, e.g. `containerd.config`, `tls.handshake`. */
  readonly id: string;
  readonly status: CheckStatus;
  /** What was checked: a file, a directory, a host, a certificate. */
  readonly subject: string;
  readonly message: string;
  /** One line; a command where one exists. Empty when ok. */
  readonly remedy: string;
}

export function ok(id: string, subject: string, message: string): CheckResult {
  return { id, status: 'ok', subject, message, remedy: '' };
}

export function warn(id: string, subject: string, message: string, remedy: string): CheckResult {
  return { id, status: 'warn', subject, message, remedy };
}

export function fail(id: string, subject: string, message: string, remedy: string): CheckResult {
  return { id, status: 'fail', subject, message, remedy };
}

/** Days from `now` until `date` (negative once past). */
export function daysUntil(date: Date, now: Date): number {
  return (date.getTime() - now.getTime()) / 86_400_000;
}

/** Certificates and server certificates warn this many days before they expire. */
export const EXPIRY_WARN_DAYS = 30;
