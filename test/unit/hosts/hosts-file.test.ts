import { describe, expect, it } from 'vitest';
import { mergeHostsFile, parseManagedEntries } from '../../../src/hosts/hosts-file.js';
import { planServiceHosts, type ServiceHostsPlan } from '../../../src/hosts/plan.js';

const ref = { namespace: 'image-registry-system', name: 'image-registry' };
const names =
  'image-registry.image-registry-system.svc image-registry.image-registry-system.svc.cluster.local';
const line = (ip: string) => `${ip} ${names} # node-ca`;
const mapped = (...ips: string[]): ServiceHostsPlan =>
  planServiceHosts(ref, { synced: true, service: { spec: { clusterIPs: ips } } }, 'cluster.local');
const absent = planServiceHosts(ref, { synced: true, service: undefined }, 'cluster.local');
const unknown = planServiceHosts(ref, { synced: false, service: undefined }, 'cluster.local');

describe('planServiceHosts', () => {
  it.each([
    ['a ClusterIP', { spec: { clusterIP: '10.0.0.1' } }, 'mapped', ['10.0.0.1']],
    [
      'dual-stack clusterIPs',
      { spec: { clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1', 'fd00::1'] } },
      'mapped',
      ['10.0.0.1', 'fd00::1'],
    ],
    ['a headless Service', { spec: { clusterIP: 'None', clusterIPs: ['None'] } }, 'headless', []],
    ['an ExternalName Service', { spec: { type: 'ExternalName' } }, 'externalName', []],
    ['no Service', undefined, 'absent', []],
  ])('plans %s', (_, service, state, ips) => {
    const p = planServiceHosts(ref, { synced: true, service }, 'cluster.local');
    expect(p.state).toBe(state);
    expect(p.ips).toEqual(ips);
  });

  it('is unknown before the first list', () => {
    expect(unknown.state).toBe('unknown');
  });
});

describe('mergeHostsFile', () => {
  const foreign =
    '# static table\n127.0.0.1\tlocalhost\n\n::1 localhost ip6-localhost   \n10.1.1.1 other # not ours\n';

  it('appends the lines and keeps every foreign byte', () => {
    expect(mergeHostsFile(foreign, [mapped('10.0.0.1')])).toBe(`${foreign}${line('10.0.0.1')}\n`);
  });

  it('writes one line per family for a dual-stack Service', () => {
    const out = mergeHostsFile(foreign, [mapped('10.0.0.1', 'fd00::10')]);
    expect(out).toBe(`${foreign}${line('10.0.0.1')}\n${line('fd00::10')}\n`);
    expect(parseManagedEntries(out).map((e) => e.ip)).toEqual(['10.0.0.1', 'fd00::10']);
  });

  it('keeps a missing final newline, and removing the lines gives the original bytes back', () => {
    const noNl = '127.0.0.1 localhost\n# last line without newline';
    const added = mergeHostsFile(noNl, [mapped('10.0.0.1')]);
    expect(added).toBe(`${noNl}\n${line('10.0.0.1')}`);
    expect(mergeHostsFile(added, [absent])).toBe(noNl);
  });

  it('replaces a changed address at its place, between foreign lines', () => {
    const before = `a\n${line('10.0.0.1')}\nb\r\nc`;
    expect(mergeHostsFile(before, [mapped('10.0.0.2')])).toBe(`a\n${line('10.0.0.2')}\nb\r\nc`);
  });

  it('is the identity when nothing changes', () => {
    const current = `${foreign}${line('10.0.0.1')}\n`;
    expect(mergeHostsFile(current, [mapped('10.0.0.1')])).toBe(current);
  });

  it('keeps the lines of a Service whose state is unknown (API down since start)', () => {
    const current = `${foreign}${line('10.0.0.1')}\n`;
    expect(mergeHostsFile(current, [unknown])).toBe(current);
  });

  it('removes lines of Services no longer configured and leaves look-alikes without the marker', () => {
    const stale = '10.9.9.9 old.ns.svc old.ns.svc.cluster.local # node-ca\n';
    const lookalike = `10.0.0.7 ${names} # node-ca-not\n`;
    expect(mergeHostsFile(`${lookalike}${stale}`, [mapped('10.0.0.1')])).toBe(
      `${lookalike}${line('10.0.0.1')}\n`,
    );
  });

  it('keeps each Service\'s lines at their own place when several are configured', () => {
    const other = planServiceHosts({ namespace: 'ns', name: 'other' }, { synced: true, service: { spec: { clusterIPs: ['10.0.0.9'] } } }, 'cluster.local');
    const otherLine = (ip: string) => `${ip} other.ns.svc other.ns.svc.cluster.local # node-ca`;
    const current = `a\n${otherLine('10.0.0.9')}\nb\n${line('10.0.0.1')}\nc\n`;
    expect(mergeHostsFile(current, [mapped('10.0.0.1'), other])).toBe(current);
    expect(mergeHostsFile(current, [mapped('10.0.0.2'), other])).toBe(`a\n${otherLine('10.0.0.9')}\nb\n${line('10.0.0.2')}\nc\n`);
    const dualStack = `a\n${line('10.0.0.1')}\n${line('fd00::1')}\nb\n${otherLine('10.0.0.9')}\n`;
    expect(mergeHostsFile(dualStack, [mapped('10.0.0.1', 'fd00::1'), other])).toBe(dualStack);
  });

  it('puts a Service without old lines where a removed line was', () => {
    const stale = '10.9.9.9 old.ns.svc old.ns.svc.cluster.local # node-ca\n';
    expect(mergeHostsFile(`a\n${stale}b\n`, [mapped('10.0.0.1')])).toBe(`a\n${line('10.0.0.1')}\nb\n`);
  });

  it('handles an empty file', () => {
    expect(mergeHostsFile('', [mapped('10.0.0.1')])).toBe(`${line('10.0.0.1')}\n`);
    expect(mergeHostsFile('', [absent])).toBe('');
  });
});

describe('mergeHostsFile: line endings follow the first foreign line ending', () => {
  it('ends its lines with CRLF in a CRLF file', () => {
    const crlf = '# edited on Windows\r\n127.0.0.1 localhost\r\n';
    expect(mergeHostsFile(crlf, [mapped('10.0.0.1', 'fd00::10')])).toBe(
      `${crlf}${line('10.0.0.1')}\r\n${line('fd00::10')}\r\n`,
    );
  });

  it('is the identity for a CRLF file whose CRLF lines are already right', () => {
    const current = `a\r\n${line('10.0.0.1')}\r\n${line('fd00::10')}\r\nb\r\n`;
    expect(mergeHostsFile(current, [mapped('10.0.0.1', 'fd00::10')])).toBe(current);
  });

  it('replaces a changed address at its place with CRLF, without a duplicate', () => {
    const out = mergeHostsFile(`a\r\n${line('10.0.0.1')}\r\nb\r\n`, [mapped('10.0.0.2')]);
    expect(out).toBe(`a\r\n${line('10.0.0.2')}\r\nb\r\n`);
    expect(parseManagedEntries(out).map((e) => e.ip)).toEqual(['10.0.0.2']);
  });

  it('ends the old last line with CRLF before its own, keeps the final newline missing, and gives the bytes back', () => {
    const noNl = 'a\r\nb';
    const added = mergeHostsFile(noNl, [mapped('10.0.0.1')]);
    expect(added).toBe(`a\r\nb\r\n${line('10.0.0.1')}`);
    expect(mergeHostsFile(added, [mapped('10.0.0.1')])).toBe(added);
    expect(mergeHostsFile(added, [absent])).toBe(noNl);
  });

  it('leaves no stray CR when its CRLF line was last without a final newline', () => {
    expect(mergeHostsFile(`a\r\n${line('10.0.0.1')}`, [absent])).toBe('a');
  });

  it.each([
    ['first foreign ending CRLF: its LF line becomes CRLF', `a\r\nb\n${line('10.0.0.1')}\n`, `a\r\nb\n${line('10.0.0.1')}\r\n`],
    ['first foreign ending LF: its CRLF line becomes LF', `a\nb\r\n${line('10.0.0.1')}\r\n`, `a\nb\r\n${line('10.0.0.1')}\n`],
    ['its own line first does not decide', `${line('10.0.0.1')}\na\r\n`, `${line('10.0.0.1')}\r\na\r\n`],
    ['a blank CRLF line is a foreign line', `\r\na\n`, `\r\na\n${line('10.0.0.1')}\r\n`],
    ['only its own lines: the first of them decides', `${line('10.0.0.1')}\r\n`, `${line('10.0.0.1')}\r\n`],
    ['no line ending at all: LF', 'a', `a\n${line('10.0.0.1')}`],
  ])('in a mixed or bare file, %s', (_name, input, expected) => {
    const out = mergeHostsFile(input, [mapped('10.0.0.1')]);
    expect(out).toBe(expected);
    // Stable: the next pass writes nothing.
    expect(mergeHostsFile(out, [mapped('10.0.0.1')])).toBe(out);
  });

  it('counts a bare CR at the very end as a CRLF cut short, and gives the bytes back', () => {
    const added = mergeHostsFile('a\r', [mapped('10.0.0.1')]);
    expect(added).toBe(`a\r\r\n${line('10.0.0.1')}`);
    expect(mergeHostsFile(added, [mapped('10.0.0.1')])).toBe(added);
    expect(mergeHostsFile(added, [absent])).toBe('a\r');
  });

  it.each([
    ['append', 'a\nb\n', [mapped('10.0.0.1')], `a\nb\n${line('10.0.0.1')}\n`],
    ['append after a missing final newline', 'a\nb', [mapped('10.0.0.1')], `a\nb\n${line('10.0.0.1')}`],
    ['replace', `a\n${line('10.0.0.1')}\nb`, [mapped('10.0.0.2')], `a\n${line('10.0.0.2')}\nb`],
    ['remove the last line without a final newline', `a\n${line('10.0.0.1')}`, [absent], 'a'],
    ['a CR inside a foreign line', 'a\rb\n', [mapped('10.0.0.1')], `a\rb\n${line('10.0.0.1')}\n`],
  ])('keeps an LF file as before: %s', (_name, input, plans, expected) => {
    expect(mergeHostsFile(input, plans)).toBe(expected);
  });
});
