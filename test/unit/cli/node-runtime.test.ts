import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { supportedNodeMajor, unsupportedNodeMessage } from '../../../src/cli/node-runtime.js';
import { repoRoot } from '../../support/agent.js';

describe('unsupportedNodeMessage', () => {
  it.each(['24.0.0', '24.21.0', '24.99.1'])('lets Node %s run the CLI', (version) => {
    expect(unsupportedNodeMessage(version)).toBeUndefined();
  });

  it.each(['20.20.2', '22.12.0', '23.11.1', '25.0.0', '26.1.0', '2.4.0', '240.0.0'])(
    'refuses Node %s in one line that names both versions and the project-Node ways to run it',
    (version) => {
      const message = unsupportedNodeMessage(version);
      expect(message).toBe(
        `node-ca: needs Node.js 24 (this is v${version}); run it with the project's Node: ` +
          'npx node-ca …, or node_modules/.bin/node dist/cli/main.js …',
      );
      expect(message).not.toContain('\n');
    },
  );

  it('checks the major that package.json engines allows (>=N <N+1)', () => {
    const pkg = JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as {
      engines: { node: string };
      bin: Record<string, string>;
    };
    expect(pkg.engines.node).toBe(`>=${supportedNodeMajor} <${supportedNodeMajor + 1}`);
    // The message's path is the bin's.
    expect(pkg.bin['node-ca']).toBe('dist/cli/main.js');
  });
});
