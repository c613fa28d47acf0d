/**
 * A minimal, read-only hosts-file parser for doctor (the agent's writer lives
 * in src/hosts). Every address line with its number; `managed` when it ends
 * with node-ca's `# node-ca` marker.
 */
export interface HostsLine {
  /** 1-based, as `sed -n Np` counts. */
  readonly lineNo: number;
  readonly ip: string;
  readonly names: readonly string[];
  readonly managed: boolean;
}

const marker = '# node-ca';

export function parseHostsLines(content: string): HostsLine[] {
  const out: HostsLine[] = [];
  content.split('\n').forEach((raw, i) => {
    const text = raw.replace(/\r$/, '').trimEnd();
    const managed = text.endsWith(marker);
    const body = (managed ? text.slice(0, -marker.length) : text).replace(/#.*$/, '').trim();
    if (body === '') return;
    const [ip, ...names] = body.split(/\s+/);
    if (ip !== undefined && names.length > 0) out.push({ lineNo: i + 1, ip, names, managed });
  });
  return out;
}
