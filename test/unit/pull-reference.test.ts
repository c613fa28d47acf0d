import { describe, expect, it } from 'vitest';
import { isRegistryAllowed, parseImageReference } from '../../src/pull/reference.js';

const digest = `sha256:${'a'.repeat(64)}`;

/** The expected `ref` of a parsed reference; tag and digest are always keys, so an unexpected one fails. */
function ref(domain: string, path: string, tag: string | undefined, dig: string | undefined) {
  return { domain, path, tag, digest: dig };
}

describe('parseImageReference (distribution/reference grammar)', () => {
  it.each([
    ['registry.test.local:5000/acp/core:latest', ref('registry.test.local:5000', 'acp/core', 'latest', undefined)],
    ['registry.test.local:5000/acp/core', ref('registry.test.local:5000', 'acp/core', 'latest', undefined)],
    [`registry.test.local/acp/core@${digest}`, ref('registry.test.local', 'acp/core', undefined, digest)],
    [`registry.test.local/acp/core:v1@${digest}`, ref('registry.test.local', 'acp/core', 'v1', digest)],
    ['localhost:5000/a/b_c-d.e:1.0-rc_1', ref('localhost:5000', 'a/b_c-d.e', '1.0-rc_1', undefined)],
    ['192.168.3.10:5000/x/y:z', ref('192.168.3.10:5000', 'x/y', 'z', undefined)],
    ['[::1]:5000/x:y', ref('[::1]:5000', 'x', 'y', undefined)],
    ['alpine', ref('docker.io', 'library/alpine', 'latest', undefined)],
    ['acp/core:v1', ref('docker.io', 'acp/core', 'v1', undefined)],
    ['index.docker.io/alpine:3', ref('docker.io', 'library/alpine', '3', undefined)],
    ['a__b/c---d:t', ref('docker.io', 'a__b/c---d', 't', undefined)],
  ])('parses %s', (input, expected) => {
    const r = parseImageReference(input);
    expect(r).toMatchObject({ ok: true, ref: expected });
  });

  it('normalises: docker.io, library/ and :latest are added', () => {
    const r = parseImageReference('alpine');
    expect(r.ok && r.ref.normalized).toBe('docker.io/library/alpine:latest');
    const d = parseImageReference(`reg.local:5000/a@${digest}`);
    expect(d.ok && d.ref.normalized).toBe(`reg.local:5000/a@${digest}`);
  });

  it.each([
    ['', 'empty'],
    [' registry.local/a:b', 'whitespace'],
    ['registry.local/Acp/core:v1', 'must be lowercase'],
    ['registry.local/acp/core:v1;rm -rf /', 'invalid repository path'],
    ['registry.local/acp/$(id):v1', 'invalid repository path'],
    ['registry.local/acp/core`id`', 'invalid repository path'],
    ['registry.local/acp/core:v1|sh', 'invalid tag'],
    ['registry.local/acp/core:v1&&x', 'invalid tag'],
    ['registry.local/acp//core', 'invalid repository path'],
    ['registry.local/acp/core:', 'invalid tag'],
    ['registry.local/acp/core:-x', 'invalid tag'],
    [`registry.local/acp/core:${'t'.repeat(129)}`, 'invalid tag'],
    ['registry.local/acp/core@sha256:abc', 'invalid digest'],
    [`registry.local/acp/core@sha256:${'A'.repeat(64)}`, 'invalid digest'],
    ['-registry.local/a:b', 'invalid registry host'],
    ['registry.local/-a:b', 'invalid repository path'],
    ['registry.local/a_:b', 'invalid repository path'],
    [`registry.local/${'a'.repeat(250)}`, 'longer than 255'],
    ['registry.local/a\nb', 'invalid repository path'],
  ])('refuses %j (%s)', (input, reason) => {
    const r = parseImageReference(input);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toContain(reason);
  });
});

describe('isRegistryAllowed', () => {
  it('compares host and port, host case-insensitively', () => {
    expect(isRegistryAllowed('Registry.Local:5000', ['registry.local:5000'])).toBe(true);
    expect(isRegistryAllowed('registry.local', ['registry.local:5000'])).toBe(false);
    expect(isRegistryAllowed('registry.local:5001', ['registry.local:5000'])).toBe(false);
    expect(isRegistryAllowed('docker.io', [])).toBe(false);
  });
});
