// `npm run bench`: every benchmark, one after another (they share 2 cores).
// Pass --quick for small sizes. TypeScript scripts run through bench/ts-loader.mjs.
// The gigabyte benches are separate commands: `node bench/backup.mjs --runs 2`
// and `node bench/ts-loader.mjs bench/fleet-backup.ts 256 2000`; --all adds them here.
import { execFileSync } from 'node:child_process';

const quick = process.argv.includes('--quick');
const benches = [
  ['bench/trust.mjs', quick ? ['--updates', '50', '--rss-updates', '200'] : []],
  ['bench/kube-latency.ts', [quick ? '50' : '200']],
  ['bench/idle-requests.ts', [quick ? '10' : '60']],
];
if (process.argv.includes('--all')) {
  benches.push(['bench/backup.mjs', quick ? ['--small'] : ['--runs', '2']]);
  benches.push(['bench/fleet-backup.ts', quick ? ['64', '500'] : ['256', '2000']]);
}
for (const [script, args] of benches) {
  process.stdout.write(`\n== ${script} ${args.join(' ')}\n`);
  const argv = script.endsWith('.ts') ? ['bench/ts-loader.mjs', script, ...args] : [script, ...args];
  execFileSync(process.execPath, argv, { stdio: 'inherit' });
}
