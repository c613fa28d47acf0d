import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFleetCluster, type FleetCluster } from '../support/fleet-cluster.js';
import { makeCa } from '../support/pki.js';

/*
 * nerdctl cannot be installed here; as in the pull checks' own tests, a small
 * sh script stands in for it on the agent's PATH and answers with nerdctl's
 * real messages: the tag `x509` fails with the unknown-authority error.
 */
const registry = 'registry.fixture.local:5000';
const digest = `sha256:${'e'.repeat(64)}`;
const x509 =
  'time="2026-11-23T09:00:00Z" level=fatal msg="failed to resolve reference \\"REF\\": failed to do request: Head \\"https://registry.fixture.local:5000/v2/acp/core/manifests/x509\\": x509: certificate signed by unknown authority"';
const nerdctl = `#!/bin/sh
PATH=/usr/bin:/bin
if [ "$1" = "--version" ]; then echo "nerdctl version 0.0.0-fixture"; exit 0; fi
shift 6
cmd="$1"
for ref in "$@"; do :; done
case "$cmd" in
  image) printf '[{"Id":"sha256:cfg","RepoTags":["%s"],"RepoDigests":["%s@${digest}"]}]\\n' "$ref" "\${ref%:*}"; exit 0;;
esac
case "$ref" in
  *:x509) echo '${x509}' | sed "s|REF|$ref|g" >&2; exit 1;;
esac
exit 0
`;

const good = `${registry}/acp/core:v1`;
const bad = `${registry}/acp/core:x509`;

let cluster: FleetCluster;
beforeEach(async () => {
  cluster = await startFleetCluster();
});
afterEach(async () => {
  await cluster.close();
});

async function fixtureBin(): Promise<string> {
  const bin = path.join(cluster.root, 'fixture-bin');
  await mkdir(bin, { recursive: true });
  await writeFile(path.join(bin, 'nerdctl'), nerdctl);
  await chmod(path.join(bin, 'nerdctl'), 0o755);
  return bin;
}

describe('node-ca fleet pull-check', () => {
  it('prints a node × image table with each failure code and fails the run', async () => {
    const bundle = { 'registry.fixture.local..5000': makeCa('registry-ca').cert };
    const pull = { runtime: 'nerdctl', allowedRegistries: [registry] };
    const bin = await fixtureBin();
    await Promise.all([
      cluster.addNode(
        { name: 'n1', config: { pull }, env: { PATH: `${bin}:${process.env.PATH ?? ''}` } },
        bundle,
      ),
      cluster.addNode({ name: 'n2', config: { pull } }, bundle),
      cluster.addNode(
        { name: 'n3', config: { pull }, env: { PATH: `${bin}:${process.env.PATH ?? ''}` } },
        bundle,
      ),
    ]);
    cluster.allow('pullchecks', ['create'], ['n1', 'n2']);

    const run = await cluster.runFleet(['pull-check', '--image', good, '--image', bad]);
    expect(run.code).toBe(1);
    const rows = run.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/));
    expect(rows[0]).toEqual(['NODE', good, bad]);
    expect(rows[1]).toEqual(['n1', 'ok', 'X509_UNKNOWN_AUTHORITY']);
    expect(rows[2]).toEqual(['n2', 'RUNTIME_MISSING', 'RUNTIME_MISSING']);
    expect(rows[3]).toEqual(['n3', 'FORBIDDEN', 'FORBIDDEN']);
    expect(run.stderr).toMatch(/failed on 3 of 3 nodes: n1, n2, n3/);

    const json = await cluster.runFleet(['pull-check', '--image', good, '--nodes', 'n1', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout) as {
      ok: boolean;
      images: string[];
      nodes: {
        node: string;
        ok: boolean;
        results: { image: string; ok: boolean; digest?: string }[];
      }[];
    };
    expect(doc).toMatchObject({
      ok: true,
      images: [good],
      nodes: [{ node: 'n1', ok: true, results: [{ image: good, ok: true, digest }] }],
    });
  });
});
