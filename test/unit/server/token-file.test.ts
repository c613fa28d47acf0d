import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/lib/errors.js';
import { createLogger } from '../../../src/lib/logger.js';
import { createTokenFile, type TokenFile } from '../../../src/server/token-file.js';
import { waitFor } from '../../support/poll.js';

const logger = createLogger({ level: 'silent' });

/** A logger whose lines (parsed) the test can count. */
function jsonSink() {
  const lines: { msg?: string; level?: number }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as { msg?: string });
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
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

  it('logs an empty or unreadable file once when it starts, not per event in the directory, and once when good again', async () => {
    const sink = jsonSink();
    const count = (msg: string) => sink.lines.filter((l) => l.msg === msg).length;
    const unrelatedEvents = async (tag: string) => {
      // Each write is its own watch event (and, before the fix, its own warning).
      for (let i = 0; i < 4; i++) {
        await writeFile(path.join(dir, `${tag}-${i}.log`), 'x');
        await pause(120);
      }
    };
    await writeFile(file, 'one');
    token = await createTokenFile(file, sink.logger);
    await writeFile(file, '');
    await waitFor(() => count('token file is empty: every token is refused') >= 1, { message: 'empty warning' });
    await unrelatedEvents('a');
    await writeFile(file, 'two');
    await waitFor(() => count('token file reloaded') >= 1, { message: 'reload' });
    await rm(file);
    await waitFor(() => count('cannot re-read token file; keeping the last token') >= 1, { message: 'unreadable warning' });
    await unrelatedEvents('b');
    expect(token.matches('two')).toBe(true);
    await writeFile(file, 'two');
    await waitFor(() => count('token file reloaded') === 2, { message: 'good again' });
    await unrelatedEvents('c');
    expect(count('token file is empty: every token is refused')).toBe(1);
    expect(count('cannot re-read token file; keeping the last token')).toBe(1);
    expect(count('token file reloaded')).toBe(2);
  });
});
