import { describe, expect, it } from 'vitest';
import { checkHostsFile, type ServiceAddressesResult } from '../../../src/doctor/hosts.js';
import { parseHostsLines } from '../../../src/doctor/hosts-lines.js';

const names = [
  'image-registry.image-registry-system.svc',
  'image-registry.image-registry-system.svc.cluster.local',
];
const managed = (ip: string) => `${ip} ${names.join(' ')} # node-ca`;
const svc = (addresses: ServiceAddressesResult) => [
  { namespace: 'image-registry-system', name: 'image-registry', names, addresses },
];
const found = (...ips: string[]): ServiceAddressesResult => ({ state: 'found', ips });
const run = (content: string | undefined, a: ServiceAddressesResult) =>
  checkHostsFile('/etc/hosts', content, svc(a), 'registry-ops');
const summary = (content: string | undefined, a: ServiceAddressesResult) =>
  run(content, a).map((r) => `${r.id}:${r.status}`);

describe('/etc/hosts check', () => {
  const base = '127.0.0.1 localhost\n# a comment\n';
  it('passes when node-ca lines map both names to the ClusterIP', () => {
    expect(summary(`${base}${managed('10.96.0.20')}\n`, found('10.96.0.20'))).toEqual([
      'hosts.service:ok',
      'hosts.service:ok',
      'hosts.duplicate:ok',
    ]);
  });
  it('passes dual-stack (one line per family), in any order', () => {
    const content = `${managed('fd00::20')}\n${managed('10.96.0.20')}\n`;
    expect(summary(content, found('10.96.0.20', 'fd00::20'))).toEqual([
      'hosts.service:ok',
      'hosts.service:ok',
      'hosts.duplicate:ok',
    ]);
  });
  it('fails when the line maps to an old ClusterIP', () => {
    const [r] = run(`${managed('10.96.0.19')}\n`, found('10.96.0.20'));
    expect(r).toMatchObject({
      status: 'fail',
      message: expect.stringContaining(
        'maps to 10.96.0.19; Service image-registry-system/image-registry has ClusterIP 10.96.0.20',
      ) as string,
    });
  });
  it('fails when there is no line at all', () => {
    expect(summary(base, found('10.96.0.20')).slice(0, 2)).toEqual([
      'hosts.service:fail',
      'hosts.service:fail',
    ]);
  });
  it('fails when the Service is gone but lines remain', () => {
    expect(run(`${managed('10.96.0.20')}\n`, { state: 'not-found' })[0]?.message).toContain(
      'does not exist',
    );
  });
  it('warns (cannot compare) when the API is unreachable and lines exist; fails when none', () => {
    expect(
      summary(`${managed('10.96.0.20')}\n`, { state: 'unreachable', reason: 'ECONNREFUSED' })[0],
    ).toBe('hosts.service:warn');
    expect(summary(base, { state: 'unreachable', reason: 'ECONNREFUSED' })[0]).toBe(
      'hosts.service:fail',
    );
  });
  it('fails on an unmanaged line mapping the name elsewhere, with a sed remedy for its line', () => {
    const content = `${base}10.0.0.99 image-registry.image-registry-system.svc\n${managed('10.96.0.20')}\n`;
    const dup = run(content, found('10.96.0.20')).find((r) => r.id === 'hosts.duplicate');
    expect(dup).toMatchObject({
      status: 'fail',
      subject: '/etc/hosts:3',
      remedy:
        "delete line 3 (10.0.0.99 image-registry.image-registry-system.svc): sed -i '3d' /etc/hosts",
    });
  });
  it('warns on an unmanaged duplicate of the right address', () => {
    const content = `${managed('10.96.0.20')}\n10.96.0.20 image-registry.image-registry-system.svc.cluster.local # by hand\n`;
    expect(run(content, found('10.96.0.20')).find((r) => r.id === 'hosts.duplicate')?.status).toBe(
      'warn',
    );
  });
  it('compares host names case-insensitively, as the resolver does', () => {
    const content = `${base}10.96.0.5 Image-Registry.image-registry-system.svc\n${managed('10.96.0.20')}\n`;
    const dup = run(content, found('10.96.0.20')).find((r) => r.id === 'hosts.duplicate');
    expect(dup).toMatchObject({ status: 'fail', subject: '/etc/hosts:3' });
    expect(dup?.message).toContain('Image-Registry.image-registry-system.svc to 10.96.0.5');
    const upperManaged = `10.96.0.20 ${names.map((n) => n.toUpperCase()).join(' ')} # node-ca\n`;
    expect(summary(upperManaged, found('10.96.0.20'))).toEqual([
      'hosts.service:ok',
      'hosts.service:ok',
      'hosts.duplicate:ok',
    ]);
  });
  it("names the agent's and the Service's namespaces in the remedy", () => {
    const [r] = run(`${managed('10.96.0.19')}\n`, found('10.96.0.20'));
    expect(r?.remedy).toContain('kubectl -n registry-ops get pods');
    expect(r?.remedy).toContain('kubectl -n image-registry-system get svc image-registry');
  });
  it('fails when the hosts file is missing', () => {
    expect(summary(undefined, found('10.96.0.20'))).toEqual(['hosts.service:fail']);
  });
  it('parses lines: comments, blanks, CRLF, the marker', () => {
    expect(parseHostsLines('# x\n\n1.2.3.4 a b # c\r\n5.6.7.8 d # node-ca\n9.9.9.9\n')).toEqual([
      { lineNo: 3, ip: '1.2.3.4', names: ['a', 'b'], managed: false },
      { lineNo: 4, ip: '5.6.7.8', names: ['d'], managed: true },
    ]);
  });
});
