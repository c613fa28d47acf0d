// Propagation latency of a CA change (kubelet `..data` swap → renamed ca.crt)
// and the agent's RSS, on the built agent as a real process started with the
// image's node flags (the Dockerfile's ENTRYPOINT; --node-flags= for none).
// RSS is read right after start, right after the last of --rss-updates
// updates, and once the agent has been quiet for --idle-seconds (it trims its
// heap 5 s after the last change, src/lib/heap.ts).
// Usage: node bench/trust.mjs [--updates 200] [--rss-updates 1000] [--node-flags '...'] [--idle-seconds 7]
import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startAgentProcess } from '../test/support/agent.ts';
import { makeCa } from '../test/support/pki.ts';
import { createTrustSandbox } from '../test/support/trust-fixture.ts';
import { percentile, report, rssMiB, shippedNodeFlags } from './lib.mjs';

const { values } = parseArgs({
  options: {
    updates: { type: 'string', default: '200' },
    'rss-updates': { type: 'string', default: '1000' },
    'node-options': { type: 'string', default: '' },
    'node-flags': { type: 'string' },
    'idle-seconds': { type: 'string', default: '7' },
  },
});
const updates = Number(values.updates);
const rssUpdates = Number(values['rss-updates']);
const nodeFlags = values['node-flags'] === undefined ? await shippedNodeFlags() : values['node-flags'].split(/\s+/).filter((f) => f !== '');
const KEY = 'registry.bench.local..5000';
const HOST = 'registry.bench.local:5000';
const cas = [makeCa('bench A', { keyIndex: 0 }), makeCa('bench B', { keyIndex: 1 })].map((c) => c.cert);

const box = await createTrustSandbox();
await box.source.write({ [KEY]: cas[0] });
// --node-options sets NODE_OPTIONS as well, to try flags Node accepts there.
const agent = await startAgentProcess({ config: box.config(), nodeArgs: nodeFlags, env: values['node-options'] === '' ? {} : { NODE_OPTIONS: values['node-options'] } });
const caFile = path.join(box.containerd, HOST, 'ca.crt');
const rssStart = await rssMiB(agent.pid);

// Wait for the rename into place (inotify on the host dir), then confirm the bytes.
function waitForContent(expected) {
  return new Promise((resolve) => {
    const w = watch(path.dirname(caFile));
    const check = async () => {
      if ((await readFile(caFile, 'utf8').catch(() => '')) === expected) {
        w.close();
        resolve(performance.now());
      }
    };
    w.on('change', check);
    void check();
  });
}

const latencies = [];
for (let i = 1; i <= updates; i++) {
  const next = i % 2 === 0 ? cas[0] : cas[1] + cas[0];
  const done = waitForContent(next);
  const swapAt = await box.source.write({ [KEY]: next });
  latencies.push((await done) - swapAt);
}
for (let i = 0; i < rssUpdates; i++) await box.source.write({ [KEY]: i % 2 === 0 ? cas[1] : cas[0] });
await waitForContent(rssUpdates % 2 === 0 ? cas[0] : cas[1]);
const rssAfter = await rssMiB(agent.pid);
await new Promise((resolve) => setTimeout(resolve, Number(values['idle-seconds']) * 1000));
const rssIdle = await rssMiB(agent.pid);
await agent.stop();
await box.remove();

report('trust', {
  updates,
  latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) },
  nodeFlags,
  rssMiB: { afterStart: rssStart, [`after${rssUpdates}Updates`]: rssAfter, [`idle${values['idle-seconds']}sAfter`]: rssIdle },
}, `CA propagation over ${updates} ..data swaps: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms (target ≤ 100 ms); RSS (node ${nodeFlags.join(' ') || 'without flags'}) ${rssStart.toFixed(1)} MiB after start, ${rssAfter.toFixed(1)} MiB right after ${rssUpdates} more updates, ${rssIdle.toFixed(1)} MiB ${values['idle-seconds']} s later (target ≤ 80 MiB)`);
