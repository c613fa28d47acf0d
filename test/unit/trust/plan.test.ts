import { describe, expect, it } from 'vitest';
import { parseBundle, type CaBundle } from '../../../src/trust/bundle.js';
import { planCertsDir, type DesiredRegistry, type ObservedEntry } from '../../../src/trust/plan.js';
import { parseMarker, renderHostsToml, renderMarker } from '../../../src/trust/render.js';
import { makeCa } from '../../support/pki.js';

function bundle(pem: string): CaBundle {
  const parsed = parseBundle(pem);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.bundle;
}

const now = new Date('2026-11-23T10:00:00Z');
const a = bundle(makeCa('A').cert);
const b = bundle(makeCa('B', { keyIndex: 1 }).cert);
const reg = (host: string, bun: CaBundle): DesiredRegistry => ({ host, key: host.replace(':', '..'), bundle: bun });

function ownedDir(host: string, bun: CaBundle, overrides: Record<string, string | undefined> = {}): ObservedEntry {
  return {
    name: host,
    isDirectory: true,
    files: {
      'ca.crt': bun.pem,
      'hosts.toml': renderHostsToml(host),
      '.node-ca': renderMarker({ key: host.replace(':', '..'), sha256: bun.sha256, time: 'earlier' }),
      ...overrides,
    },
  };
}

const plan = (desired: DesiredRegistry[], observed: ObservedEntry[], keep: string[] = [], flavor: 'containerd' | 'docker' = 'containerd') =>
  planCertsDir({ flavor, desired, keep: new Set(keep), observed, now });

describe('planCertsDir', () => {
  it('creates a missing registry dir with ca.crt, hosts.toml, then the marker', () => {
    const [action] = plan([reg('r.example:5000', a)], []);
    expect(action?.type).toBe('create');
    expect(action && 'files' in action && action.files.map((f) => f.name)).toEqual(['ca.crt', 'hosts.toml', '.node-ca']);
  });

  it('writes no hosts.toml in a Docker-style dir', () => {
    const [action] = plan([reg('r.example', a)], [], [], 'docker');
    expect(action && 'files' in action && action.files.map((f) => f.name)).toEqual(['ca.crt', '.node-ca']);
  });

  it('does nothing when every byte is right (the marker time does not count)', () => {
    expect(plan([reg('r.example:5000', a)], [ownedDir('r.example:5000', a)])).toEqual([]);
  });

  it('rewrites ca.crt and the marker when the bundle changed, not hosts.toml', () => {
    const [action] = plan([reg('r.example:5000', b)], [ownedDir('r.example:5000', a)]);
    expect(action?.type).toBe('update');
    expect(action && 'files' in action && action.files.map((f) => f.name)).toEqual(['ca.crt', '.node-ca']);
  });

  it('repairs drift: an edited hosts.toml or a deleted ca.crt', () => {
    const drifted = ownedDir('r.example:5000', a, { 'hosts.toml': 'skip_verify = true\n', 'ca.crt': undefined });
    const [action] = plan([reg('r.example:5000', a)], [drifted]);
    expect(action && 'files' in action && action.files.map((f) => f.name)).toEqual(['ca.crt', 'hosts.toml']);
  });

  it('reports a directory without the marker as a conflict and plans no write in it', () => {
    const admin: ObservedEntry = { name: 'r.example:5000', isDirectory: true, files: { 'ca.crt': 'admin bytes' } };
    expect(plan([reg('r.example:5000', a)], [admin])).toEqual([
      { type: 'conflict', host: 'r.example:5000', reason: expect.stringMatching(/administrator-owned/) as string },
    ]);
  });

  it('reports a file in the way as a conflict', () => {
    const file: ObservedEntry = { name: 'r.example', isDirectory: false, files: {} };
    expect(plan([reg('r.example', a)], [file])[0]?.type).toBe('conflict');
  });

  it('removes an owned dir whose key left, and never an unowned one', () => {
    const admin: ObservedEntry = { name: 'admin.example', isDirectory: true, files: { 'ca.crt': 'x' } };
    const actions = plan([], [ownedDir('gone.example', a), admin]);
    expect(actions).toEqual([{ type: 'remove', host: 'gone.example', written: ['ca.crt', 'hosts.toml'] }]);
    expect(plan([], [ownedDir('gone.example', a)], [], 'docker')).toEqual([{ type: 'remove', host: 'gone.example', written: ['ca.crt'] }]);
  });

  it.each([
    ['not JSON', 'not json'],
    ['JSON without key and sha256', '{"owner": "someone"}'],
    ['the marker of another directory', renderMarker({ key: 'elsewhere.example', sha256: 'ab', time: 't' })],
    ['a key that is not a host', renderMarker({ key: '../etc', sha256: 'ab', time: 't' })],
  ])('takes no ownership from a .node-ca that is %s', (_, text) => {
    const entry = ownedDir('r.example:5000', a, { '.node-ca': text });
    const [action] = plan([reg('r.example:5000', a)], [entry]);
    expect(action).toEqual({ type: 'conflict', host: 'r.example:5000', reason: expect.stringMatching(/left alone as an administrator's/) as string });
    expect(plan([], [entry])).toEqual([]);
  });

  it('keeps the owned dir of a key that is present but invalid', () => {
    expect(plan([], [ownedDir('bad.example', a)], ['bad.example'])).toEqual([]);
  });
});

describe('render', () => {
  it('renders hosts.toml exactly as SPEC shows', () => {
    expect(renderHostsToml('image-registry.image-registry-system.svc:5000')).toBe(
      `# Managed by node-ca. Changes are overwritten.
server = "https://image-registry.image-registry-system.svc:5000"

[host."https://image-registry.image-registry-system.svc:5000"]
  capabilities = ["pull", "resolve"]
  ca = "ca.crt"
`,
    );
  });

  it('round-trips the marker and rejects foreign content', () => {
    const text = renderMarker({ key: 'k', sha256: 'ab', time: 't' });
    expect(parseMarker(text)).toEqual({ key: 'k', sha256: 'ab', time: 't' });
    expect(parseMarker('not json')).toBeUndefined();
    expect(parseMarker('{"key": 1}')).toBeUndefined();
  });
});
