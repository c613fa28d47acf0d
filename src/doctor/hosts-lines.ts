import { hostsMarker, parseManagedLine } from '../hosts/hosts-file.js';

/**
 * A read-only hosts-file reading for doctor: every address line with its
 * number, the foreign ones too (src/hosts only needs its own); `managed`
 * when the line ends with node-ca's `# node-ca` marker.
 */
export interface HostsLine {
  /** 1-based, as `sed -n Np` counts. */
  readonly lineNo: number;
  readonly ip: string;
  readonly names: readonly string[];
  readonly managed: boolean;
}

export function parseHostsLines(content: string): HostsLine[] {
  const out: HostsLine[] = [];
  content.split('\n').forEach((raw, i) => {
    const text = raw.replace(/\r$/, '').trimEnd();
    // The agent's own rule decides which lines are its (src/hosts).
    const managed = parseManagedLine(text) !== undefined;
    const body = (managed ? text.slice(0, -hostsMarker.length) : text).replace(/#.*$/, '').trim();
    if (body === '') return;
    const [ip, ...names] = body.split(/\s+/);
    if (ip !== undefined && names.length > 0) out.push({ lineNo: i + 1, ip, names, managed });
  });
  return out;
}

/**
 * Whether a line names any of `wanted`. Host names compare case-insensitively,
 * as the resolver does (glibc's files backend uses strcasecmp on /etc/hosts names).
 */
export function namesAny(line: HostsLine, wanted: readonly string[]): boolean {
  return line.names.some((n) => wanted.some((w) => sameName(n, w)));
}

export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
