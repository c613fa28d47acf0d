import type { ServiceHostsPlan } from './plan.js';

/** The marker that ends every line node-ca owns. */
export const hostsMarker = '# node-ca';

/**
 * One line of a hosts file: its text and its own terminator, CRLF or LF ('' for
 * a last line without one). A CR not followed by LF stays in the text.
 */
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
  const re = /([^\n]*?)(\r\n|\n|$)/g;
  for (let m = re.exec(content); m !== null && m.index < content.length; m = re.exec(content)) {
    lines.push({ text: m[1] ?? '', eol: m[2] ?? '' });
    if (m[2] === '') break;
  }
  return lines;
}

/**
 * The line ending node-ca gives its own lines: the file's, as its first
 * foreign line that has one says (CRLF or LF). A file in which only node-ca's
 * lines have one: the first of those; none at all: LF. Foreign lines are kept
 * byte for byte, so the next pass sees the same ending and writes nothing.
 */
function lineEndingOf(lines: readonly Line[]): string {
  const ended = lines.filter((l) => endingOf(l) !== undefined);
  const first = ended.find((l) => parseManagedLine(l.text) === undefined) ?? ended[0];
  return first === undefined ? '\n' : (endingOf(first) ?? '\n');
}

/**
 * CRLF, LF, or undefined for a last line without one. A last line ending in a
 * bare CR counts as CRLF: once node-ca ends it, it reads back as a CRLF line.
 */
function endingOf(line: Line): string | undefined {
  if (line.eol !== '') return line.eol;
  return line.text.endsWith('\r') ? '\r\n' : undefined;
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
 * they are; node-ca lines of no configured Service are removed. node-ca's lines
 * end as `lineEndingOf` says. Every other byte is kept, and the file ends
 * with a line ending exactly when it did before (a missing final newline stays
 * missing), so removing our lines gives back the original bytes.
 */
export function mergeHostsFile(content: string, plans: readonly ServiceHostsPlan[]): string {
  const lines = splitLines(content);
  const eol = lineEndingOf(lines);
  const keep = new Set(plans.filter((p) => p.state === 'unknown').map((p) => p.names[0]));
  const pending = new Map(
    plans
      .filter((p) => p.state !== 'unknown')
      .map((p) => [p.names[0], renderServiceLines(p).map((text) => ({ text, eol }))]),
  );
  const placed = new Set<string>();
  const out: Line[] = [];
  let spareAt: number | undefined;
  for (const line of lines) {
    const entry = parseManagedLine(line.text);
    if (entry === undefined || entry.names.some((n) => keep.has(n))) out.push(line);
    else if (!placeOwnLines(entry, pending, placed, out)) spareAt ??= out.length;
  }
  out.splice(spareAt ?? out.length, 0, ...[...pending.values()].flat());
  return joinLines(out, eol, content === '' || content.endsWith('\n'));
}

/**
 * Every line with its terminator (the file's for the old last line, which had
 * none). When the file had no final newline, the last line drops the ending
 * node-ca would have given it: a CRLF whole in a CRLF file, so no stray CR is
 * left; only the LF in an LF file, where a CR before it was the line's own.
 */
function joinLines(lines: readonly Line[], eol: string, finalNewline: boolean): string {
  const last = lines.length - 1;
  const ending = (l: Line, i: number) => {
    const own = l.eol || eol;
    return i < last || finalNewline ? own : own.slice(0, -eol.length);
  };
  return lines.map((l, i) => l.text + ending(l, i)).join('');
}

/**
 * An old line of a planned Service: that Service's new lines go here (once).
 * False for a line of no planned Service, whose place is free for others.
 */
function placeOwnLines(entry: ManagedEntry, pending: Map<string, Line[]>, placed: Set<string>, out: Line[]): boolean {
  const service = entry.names.find((n) => pending.has(n) || placed.has(n));
  if (service === undefined) return false;
  const lines = pending.get(service);
  if (lines !== undefined) {
    out.push(...lines);
    pending.delete(service);
    placed.add(service);
  }
  return true;
}
