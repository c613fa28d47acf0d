import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/lib/errors.js';
import { createLogger } from '../../../src/lib/logger.js';
import { createTokenFile, type TokenFile } from '../../../src/server/token-file.js';
import { waitFor } from '../../support/poll.js';

const logger = createLogger({ level: 'silent' });
let dir: string;
let file: string;
let token: TokenFile | undefined;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'node-ca-token-'));
  file = path.join(dir, 'token');
});
afterEach(async () => {
  await token?.stop();
  token = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('createTokenFile', () => {
  it('compares with the trimmed contents', async () => {
    await writeFile(file, '  s3cret\n\n');
    token = await createTokenFile(file, logger);
    expect(token.matches('s3cret')).toBe(true);
    expect(token.matches(' s3cret')).toBe(false);
    expect(token.matches('s3cre')).toBe(false);
    expect(token.matches('')).toBe(false);
  });

  it.each([
    ['missing', () => Promise.resolve(), /server\.auth\.tokenFile: cannot read/],
    ['empty', () => writeFile(file, ' \n'), /server\.auth\.tokenFile: .* is empty/],
  ])('refuses a %s file at start with a ConfigError', async (_n, setup, message) => {
    await setup();
    const err = await createTokenFile(file, logger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });

  it('re-reads the file when it is rewritten or replaced by a rename', async () => {
    await writeFile(file, 'one');
    token = await createTokenFile(file, logger);
    await writeFile(file, 'two\n');
    await waitFor(() => token!.matches('two'), { timeoutMs: 10_000, message: 'reload after write' });
    expect(token.matches('one')).toBe(false);
    await writeFile(path.join(dir, 'token.new'), 'three');
    await rename(path.join(dir, 'token.new'), file);
    await waitFor(() => token!.matches('three'), { timeoutMs: 10_000, message: 'reload after rename' });
  });

  it('accepts no token once the file is emptied (revocation)', async () => {
    await writeFile(file, 'one');
    token = await createTokenFile(file, logger);
    await writeFile(file, '');
    await waitFor(() => !token!.matches('one'), { timeoutMs: 10_000, message: 'revocation' });
    expect(token.matches('')).toBe(false);
  });
});
