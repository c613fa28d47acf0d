// `npm run bench`: every benchmark, one after another (they share 2 cores).
// Pass --quick for small sizes.
import { execFileSync } from 'node:child_process';

const quick = process.argv.includes('--quick');
const benches = [
  ['bench/trust.mjs', quick ? ['--updates', '50', '--rss-updates', '200'] : []],
];
for (const [script, args] of benches) {
  process.stdout.write(`\n== ${script} ${args.join(' ')}\n`);
  execFileSync(process.execPath, [script, ...args], { stdio: 'inherit' });
}
