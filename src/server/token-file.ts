import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError, errorMessage } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { watchFiles } from './file-watch.js';

/** The shared secret of `auth.mode: token`, kept current with its file. */
export interface TokenFile {
  /** Constant-time: compares SHA-256 digests, so neither content nor length leaks through timing. */
  matches(presented: string): boolean;
  stop(): Promise<void>;
}

/** How the last read of the token file went; each change of it is logged once. */
type TokenFileState = 'good' | 'empty' | 'unreadable';

/**
 * Reads `tokenFile` (surrounding whitespace ignored) and re-reads it when it
 * changes. At start an unreadable or empty file is a configuration error.
 * Later, an empty file accepts no token (an administrator revoking it); an
 * unreadable one keeps the last token (the kubelet's symlink swap makes the
 * file vanish for an instant) with a warning. The watch fires for every file
 * in the directory, so a condition is logged when it starts, not per event:
 * a log file written next to the token would otherwise feed its own loop.
 */
export async function createTokenFile(file: string, logger: Logger): Promise<TokenFile> {
  let digest = await readDigest(file);
  if (digest === undefined) throw new ConfigError(`server.auth.tokenFile: ${file} is empty`);
  let state: TokenFileState = 'good';
  const reload = async () => {
    let next: Buffer | undefined;
    try {
      next = await readDigest(file);
    } catch (err) {
      if (state !== 'unreadable') logger.warn({ tokenFile: file, err: errorMessage(err) }, 'cannot re-read token file; keeping the last token');
      state = 'unreadable';
      return;
    }
    if (next === undefined) {
      if (state !== 'empty') logger.warn({ tokenFile: file }, 'token file is empty: every token is refused');
    } else if (state !== 'good' || digest === undefined || !timingSafeEqual(next, digest)) logger.info({ tokenFile: file }, 'token file reloaded');
    state = next === undefined ? 'empty' : 'good';
    digest = next;
  };
  const watch = await watchFiles([file], reload);
  return {
    matches(presented) {
      if (digest === undefined) return false;
      return timingSafeEqual(sha256(presented), digest);
    },
    stop: () => watch.stop(),
  };
}

async function readDigest(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`server.auth.tokenFile: cannot read ${file}: ${errorMessage(err)}`);
  }
  const token = text.trim();
  return token === '' ? undefined : sha256(token);
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
