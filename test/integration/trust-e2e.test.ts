import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess, loopbackServer } from '../support/agent.js';
import { createProjectedConfigMap } from '../support/kubelet.js';
import { makeCa } from '../support/pki.js';
import { startPullFixture, type PullFixture } from '../support/pull-fixture.js';
import { waitFor } from '../support/poll.js';

const name = 'registry.test.local';

describe('trust sync end to end with real containerd and docker-registry', () => {
  let dir: string;
  let fixture: PullFixture | undefined;
  let agent: AgentProcess | undefined;
  const ca = makeCa('node-ca e2e CA');

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'node-ca-trust-e2e-'));
    fixture = await startPullFixture(dir, name, ca);
  });

  afterAll(async () => {
    await agent?.stop();
    await fixture?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('pulls with the certs.d the agent wrote, and fails with x509 once the source CA is replaced', async () => {
    const { registry: reg, containerd, resolver, image } = fixture!;
    const source = createProjectedConfigMap(path.join(dir, 'source'));
    const certsDir = path.join(dir, 'agent-certs.d');
    await source.write({ [`${name}..${reg.port}`]: ca.cert });
    agent = await startAgentProcess({
      config: {
        trust: { sourceDir: source.dir, containerdCertsDir: certsDir, dockerCertsDir: '' },
        hosts: { file: '' },
        server: loopbackServer,
      },
    });
    const caFile = path.join(certsDir, reg.host, 'ca.crt');
    await waitFor(
      async () => (await readFile(caFile, 'utf8').catch(() => '')).trim() === ca.cert.trim(),
      {
        timeoutMs: 15_000,
        message: 'ca.crt written by the agent',
      },
    );
    const pull = ['images', 'pull', '--hosts-dir', certsDir, image.ref];
    const ok = await containerd.ctr(pull, { prefix: resolver.prefix });
    expect(ok.stderr).not.toMatch(/x509/);
    expect(ok.exitCode).toBe(0);
    const listed = await containerd.ctr(['images', 'ls', '-q']);
    expect(listed.stdout.split('\n')).toContain(image.ref);

    const otherCa = makeCa('some other CA', { keyIndex: 2 });
    await source.write({ [`${name}..${reg.port}`]: otherCa.cert });
    await waitFor(async () => (await readFile(caFile, 'utf8')).trim() === otherCa.cert.trim(), {
      timeoutMs: 15_000,
      message: 'ca.crt rewritten with the new CA',
    });
    await containerd.ctr(['images', 'rm', image.ref]);
    const failed = await containerd.ctr(pull, { prefix: resolver.prefix });
    expect(failed.exitCode).not.toBe(0);
    expect(failed.stderr).toContain('x509: certificate signed by unknown authority');
  });
});
