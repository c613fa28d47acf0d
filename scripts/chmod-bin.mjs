// tsc does not keep the executable bit; the bin must be runnable as `node-ca`.
import { chmodSync } from 'node:fs';
chmodSync(new URL('../dist/cli/main.js', import.meta.url), 0o755);
