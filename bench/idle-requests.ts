/**
 * Figure: API requests made by one idle agent (hosts file + API-watched CA
 * source), counted at the API double, over a window (default 60 s), scaled
 * to 10 minutes. Startup requests (one list + one watch per object) are
 * reported apart.
 * Run: npm run build && node bench/ts-loader.mjs bench/idle-requests.ts [windowSeconds=60]
 */
import { waitFor } from '../test/support/poll.js';
import { startKubeBench } from './kube-bench-setup.js';

const windowSeconds = Number(process.argv[2] ?? 60);
const { api, close } = await startKubeBench('idle');
try {
  await waitFor(() => api.watchCount === 2, { timeoutMs: 20_000, message: 'two watches open' });
  const startup = api.requests.map((r) => `${r.method} ${r.path}${r.watch ? ' (watch)' : ''}`);
  const mark = api.requests.length;
  await new Promise((r) => setTimeout(r, windowSeconds * 1000));
  const idle = api.requests.length - mark;
  const per10Min = Math.round((idle * 600) / windowSeconds);
  console.log(
    JSON.stringify({
      windowSeconds,
      startupRequests: startup.length,
      startup,
      idleRequests: idle,
      idleRequestsPer10MinScaled: per10Min,
    }),
  );
  console.log(
    `idle agent: ${idle} API requests in ${windowSeconds} s (scaled: ${per10Min} per 10 min; target ≤ 10), after ${startup.length} at startup (${startup.join(', ')})`,
  );
} finally {
  await close();
}
