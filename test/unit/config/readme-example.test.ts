import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { validateConfigDocument } from '../../../src/config/schema.js';
import { repoRoot } from '../../support/agent.js';

/** The YAML block after "Every default, as a file" in README "Configuration". */
function readmeDefaultsBlock(): string {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Configuration\n'));
  const lead = section.indexOf('Every default, as a file');
  expect(lead, 'README "Configuration" introduces its defaults block').toBeGreaterThan(0);
  const match = /```yaml\n([\s\S]*?)```/.exec(section.slice(lead));
  expect(match, 'a yaml block follows').not.toBeNull();
  return match![1]!;
}

describe('README "Configuration" example', () => {
  // Copied as a starting point, the block must change nothing: a key set
  // there that is not a default (trust.sourceDir once) silently switches behaviour.
  it('is exactly the defaults, so copying it changes nothing', () => {
    const fromReadme = validateConfigDocument(parseYaml(readmeDefaultsBlock()));
    expect(fromReadme.problems).toBeUndefined();
    expect(fromReadme.config).toEqual(validateConfigDocument({}).config);
    expect(fromReadme.config?.trust.sourceDir).toBeUndefined();
  });
});
