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
