import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readContainerdConfigFiles } from '../../../src/doctor/containerd-imports.js';

const read = async (f: string) => {
  try {
    return await readFile(f, 'utf8');
  } catch {
    return undefined;
  }
};

describe('reading containerd config imports from disk, in containerd load order', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'node-ca-ctd-imports-'));
    await mkdir(path.join(dir, 'conf.d'));
    await writeFile(
      path.join(dir, 'config.toml'),
      'version = 2\nimports = ["conf.d/*.toml", "extra.toml"]\n',
    );
    await writeFile(path.join(dir, 'conf.d', 'b.toml'), 'version = 2\n');
    await writeFile(
      path.join(dir, 'conf.d', 'a.toml'),
      'version = 2\nimports = ["../nested.toml"]\n',
    );
    await writeFile(path.join(dir, 'conf.d', 'skip.conf'), 'version = 2\n');
    await writeFile(path.join(dir, 'extra.toml'), 'version = 2\n');
    await writeFile(path.join(dir, 'nested.toml'), 'version = 2\n');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('containerd 2.x: relative globs against the file directory, sorted matches, nested imports queued after', async () => {
    const files = await readContainerdConfigFiles(path.join(dir, 'config.toml'), read, () => true);
    expect(files.map((f) => path.relative(dir, f.path))).toEqual([
      'config.toml',
      'conf.d/a.toml',
      'conf.d/b.toml',
      'extra.toml',
      'nested.toml',
    ]);
  });
  it('containerd 1.x: a relative glob is matched against containerd’s working directory (/), literals against the file', async () => {
    const files = await readContainerdConfigFiles(path.join(dir, 'config.toml'), read, () => false);
    expect(files.map((f) => path.relative(dir, f.path))).toEqual(['config.toml', 'extra.toml']);
  });
  it('stops at a literal import that does not exist (containerd fails to start there)', async () => {
    await writeFile(
      path.join(dir, 'config.toml'),
      'version = 2\nimports = ["gone.toml", "extra.toml"]\n',
    );
    const files = await readContainerdConfigFiles(path.join(dir, 'config.toml'), read, () => true);
    expect(files).toEqual([
      { path: path.join(dir, 'config.toml'), text: expect.any(String) as string },
      { path: path.join(dir, 'gone.toml'), text: undefined },
    ]);
  });
});
