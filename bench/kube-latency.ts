/**
 * Figure: Service change → hosts file written, and ConfigMap change (API
 * source) → ca.crt renamed into place, p50/p99 over N changes each, with the
 * built agent as a process against the HTTPS API double.
 * Run: npm run build && node bench/ts-loader.mjs bench/kube-latency.ts [N=200]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ns, startKubeBench } from './kube-bench-setup.js';

const n = Number(process.argv[2] ?? 200);
const host = 'image-registry.image-registry-system.svc:5000';

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('bench: change not seen within 10 s');
    await new Promise((r) => setTimeout(r, 1));
  }
}

function percentiles(ms: number[]) {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
  return {
    n: s.length,
    p50: +at(50).toFixed(2),
    p99: +at(99).toFixed(2),
    max: +at(100).toFixed(2),
  };
}

const { api, dir, hostsFile, cas, close } = await startKubeBench('bench');
try {
  const serviceMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `10.96.${Math.floor(i / 250) + 1}.${(i % 250) + 2}`;
    const t0 = performance.now();
    api.update('services', {
      metadata: { namespace: ns, name: 'image-registry' },
      spec: { clusterIP: ip, clusterIPs: [ip] },
    });
    await until(async () => (await readFile(hostsFile, 'utf8')).includes(`${ip} `));
    serviceMs.push(performance.now() - t0);
  }
  const caFile = path.join(dir, 'certs.d', host, 'ca.crt');
  const configMapMs: number[] = [];
  for (let i = 1; i <= n; i++) {
    const pem = cas[i % 2]?.cert ?? '';
    const t0 = performance.now();
    api.update('configmaps', {
      metadata: { namespace: ns, name: 'image-registry-certificates' },
      data: { 'image-registry.image-registry-system.svc..5000': pem },
    });
    await until(async () => (await readFile(caFile, 'utf8').catch(() => '')) === pem);
    configMapMs.push(performance.now() - t0);
  }
  const result = {
    serviceToHostsMs: percentiles(serviceMs),
    configMapToCaCrtMs: percentiles(configMapMs),
  };
  console.log(JSON.stringify(result));
  console.log(
    `Service change → hosts file: p50 ${result.serviceToHostsMs.p50} ms, p99 ${result.serviceToHostsMs.p99} ms; ` +
      `ConfigMap change → ca.crt: p50 ${result.configMapToCaCrtMs.p50} ms, p99 ${result.configMapToCaCrtMs.p99} ms (n=${n} each; OpenShift's loops: up to 60 s)`,
  );
} finally {
  await close();
}
