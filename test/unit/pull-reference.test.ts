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
    // go-digest registers sha384 and sha512 beside sha256, each with its own hex length.
    [`r.local/a@sha384:${'b'.repeat(96)}`, ref('r.local', 'a', undefined, `sha384:${'b'.repeat(96)}`)],
    [`r.local/a@sha512:${'c'.repeat(128)}`, ref('r.local', 'a', undefined, `sha512:${'c'.repeat(128)}`)],
    // The registry host is lowercased (containerd finds certs.d/<host> by the exact string).
    ['GOOD.AUDIT.TEST:55607/acp/core:v1', ref('good.audit.test:55607', 'acp/core', 'v1', undefined)],
    ['LOCALHOST/x', ref('localhost', 'x', 'latest', undefined)],
    ['Index.Docker.IO/alpine', ref('docker.io', 'library/alpine', 'latest', undefined)],
    ['[::ABCD]:5000/x', ref('[::abcd]:5000', 'x', 'latest', undefined)],
    // 255 characters once normalised is the limit, not 255 as written.
    [`r.local/${'a'.repeat(247)}`, ref('r.local', 'a'.repeat(247), 'latest', undefined)],
    // A 64-hex name with a tag is not the bare identifier ParseNormalizedNamed refuses.
    [`${'a'.repeat(64)}:v1`, ref('docker.io', `library/${'a'.repeat(64)}`, 'v1', undefined)],
  ])('parses %s', (input, expected) => {
    const r = parseImageReference(input);
    expect(r).toMatchObject({ ok: true, ref: expected });
  });

  it('normalises: docker.io, library/ and :latest are added', () => {
    const r = parseImageReference('alpine');
    expect(r.ok && r.ref.normalized).toBe('docker.io/library/alpine:latest');
    const d = parseImageReference(`reg.local:5000/a@${digest}`);
    expect(d.ok && d.ref.normalized).toBe(`reg.local:5000/a@${digest}`);
    const upper = parseImageReference('GOOD.AUDIT.TEST:55607/acp/core:v1');
    expect(upper.ok && upper.ref.normalized).toBe('good.audit.test:55607/acp/core:v1');
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
    // go-digest algorithm.go registers sha256 (64 hex), sha384 (96), sha512 (128) only.
    [`registry.local/a@md5:${'a'.repeat(32)}`, 'algorithm "md5" is not one of sha256, sha384, sha512'],
    [`registry.local/a@sha1:${'a'.repeat(40)}`, 'algorithm "sha1"'],
    [`registry.local/a@sha384:${'a'.repeat(64)}`, 'sha384 takes 96 lowercase hex digits'],
    [`registry.local/a@sha512:${'a'.repeat(96)}`, 'sha512 takes 128'],
    [`registry.local/a@sha256:${'a'.repeat(65)}`, 'sha256 takes 64'],
    ['registry.local/a@sha256', 'invalid digest'],
    // reference.go NameTotalLengthMax applies to the normalised name (docker.io/library/ added).
    ['a'.repeat(246), 'longer than 255 characters once normalised (264'],
    [`x/${'a'.repeat(250)}`, 'longer than 255 characters once normalised (262'],
    [`r.local/${'a'.repeat(248)}`, 'longer than 255'],
    // normalize.go ParseNormalizedNamed: "cannot specify 64-byte hexadecimal strings".
    ['a'.repeat(64), '64-hex identifier'],
    ['0123456789abcdef'.repeat(4), '64-hex identifier'],
    // A host only because of its capitals would, lowercased, be a Docker Hub namespace.
    ['Foo/bar', 'write it as "foo:<port>"'],
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
