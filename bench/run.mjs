// `npm run bench`: every benchmark, one after another (they share 2 cores).
// Pass --quick for small sizes. TypeScript scripts run through bench/ts-loader.mjs.
import { execFileSync } from 'node:child_process';

const quick = process.argv.includes('--quick');
const benches = [
  ['bench/trust.mjs', quick ? ['--updates', '50', '--rss-updates', '200'] : []],
  ['bench/kube-latency.ts', [quick ? '50' : '200']],
  ['bench/idle-requests.ts', [quick ? '10' : '60']],
];
for (const [script, args] of benches) {
  process.stdout.write(`\n== ${script} ${args.join(' ')}\n`);
  const argv = script.endsWith('.ts') ? ['bench/ts-loader.mjs', script, ...args] : [script, ...args];
  execFileSync(process.execPath, argv, { stdio: 'inherit' });
}
