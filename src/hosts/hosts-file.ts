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
 * replaced by the planned ones (at the place of the first line replaced, else
 * appended); lines of `unknown` Services stay as they are; node-ca lines of
 * no configured Service are removed. Every other byte is kept, and the file
 * ends with a newline exactly when it did before (a missing final newline
 * stays missing), so removing our lines gives back the original bytes.
 */
export function mergeHostsFile(content: string, plans: readonly ServiceHostsPlan[]): string {
  const keep = new Set(plans.filter((p) => p.state === 'unknown').map((p) => p.names[0]));
  const wanted = plans.filter((p) => p.state !== 'unknown').flatMap(renderServiceLines);
  const out: string[] = [];
  let insertAt: number | undefined;
  for (const line of splitLines(content)) {
    const entry = parseManagedLine(line.text);
    if (entry === undefined || entry.names.some((n) => keep.has(n)))
      out.push(line.text + (line.eol === '' ? '\n' : line.eol));
    else insertAt ??= out.length;
  }
  out.splice(insertAt ?? out.length, 0, ...wanted.map((l) => `${l}\n`));
  const joined = out.join('');
  const hadFinalNewline = content === '' || content.endsWith('\n');
  return hadFinalNewline || joined === '' ? joined : joined.slice(0, -1);
}
