import type { ServiceHostsPlan } from './plan.js';

/** The marker that ends every line node-ca owns. */
export const hostsMarker = '# node-ca';

/** One line of a hosts file: its text and its own terminator ('' for a last line without one). */
interface Line {
  readonly text: string;
  readonly eol: string;
}

/** A line node-ca wrote, as read back. */
export interface ManagedEntry {
  readonly ip: string;
  readonly names: readonly string[];
}

function splitLines(content: string): Line[] {
  const lines: Line[] = [];
  const re = /([^\n]*)(\n|$)/g;
  for (let m = re.exec(content); m !== null && m.index < content.length; m = re.exec(content)) {
    lines.push({ text: m[1] ?? '', eol: m[2] ?? '' });
    if (m[2] === '') break;
  }
  return lines;
}

/** The entry of a node-ca line, or undefined for a foreign one (CRLF and trailing blanks tolerated). */
export function parseManagedLine(text: string): ManagedEntry | undefined {
  const body = text.replace(/\r$/, '').trimEnd();
  if (!body.endsWith(hostsMarker)) return undefined;
  const [ip, ...names] = body.slice(0, -hostsMarker.length).trim().split(/\s+/);
  return ip === undefined || ip === '' ? undefined : { ip, names };
}

/** The text of every node-ca line (without its line ending). */
export function managedLines(content: string): string[] {
  return splitLines(content)
    .map((l) => l.text.replace(/\r$/, ''))
    .filter((t) => parseManagedLine(t) !== undefined);
}

/** Every node-ca line of a hosts file. */
export function parseManagedEntries(content: string): ManagedEntry[] {
  return splitLines(content).flatMap((l) => parseManagedLine(l.text) ?? []);
}

export function renderServiceLines(plan: ServiceHostsPlan): string[] {
  return plan.ips.map((ip) => `${ip} ${plan.names.join(' ')} ${hostsMarker}`);
}

/**
 * The new hosts file: node-ca lines of Services whose state is known are
 * replaced by the planned ones, each Service's at the place of its own first
 * old line; a Service that had none takes the place of the first line removed
 * for another reason, else it is appended. Lines of `unknown` Services stay as
 * they are; node-ca lines of no configured Service are removed. Every other
 * byte is kept, and the file ends with a newline exactly when it did before (a
 * missing final newline stays missing), so removing our lines gives back the
 * original bytes.
 */
export function mergeHostsFile(content: string, plans: readonly ServiceHostsPlan[]): string {
  const keep = new Set(plans.filter((p) => p.state === 'unknown').map((p) => p.names[0]));
  const pending = new Map(plans.filter((p) => p.state !== 'unknown').map((p) => [p.names[0], renderServiceLines(p)]));
  const placed = new Set<string>();
  const out: string[] = [];
  let spareAt: number | undefined;
  for (const line of splitLines(content)) {
    const entry = parseManagedLine(line.text);
    if (entry === undefined || entry.names.some((n) => keep.has(n))) out.push(line.text + (line.eol === '' ? '\n' : line.eol));
    else if (!placeOwnLines(entry, pending, placed, out)) spareAt ??= out.length;
  }
  out.splice(spareAt ?? out.length, 0, ...[...pending.values()].flat().map((l) => `${l}\n`));
  return withFinalNewlineAs(content, out.join(''));
}

/** A missing final newline stays missing (every line was given one above). */
function withFinalNewlineAs(content: string, joined: string): string {
  const hadFinalNewline = content === '' || content.endsWith('\n');
  return hadFinalNewline || joined === '' ? joined : joined.slice(0, -1);
}

/**
 * An old line of a planned Service: that Service's new lines go here (once).
 * False for a line of no planned Service, whose place is free for others.
 */
function placeOwnLines(entry: ManagedEntry, pending: Map<string, string[]>, placed: Set<string>, out: string[]): boolean {
  const service = entry.names.find((n) => pending.has(n) || placed.has(n));
  if (service === undefined) return false;
  const lines = pending.get(service);
  if (lines !== undefined) {
    out.push(...lines.map((l) => `${l}\n`));
    pending.delete(service);
    placed.add(service);
  }
  return true;
}
