import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { errnoCode } from '../lib/errors.js';
import { BackupFailure } from './job.js';
import { lastTarError } from './tar-messages.js';
import { memberPrefix } from './walk.js';

export interface TarRunOptions {
  readonly sourceDir: string;
  /** Where the archive is written (`<name>.partial`); fsynced before this resolves. */
  readonly partialPath: string;
  /** Receives the same bytes (the archive parser). */
  readonly reader: Writable;
  readonly signal: AbortSignal;
  readonly onBytes?: (total: number) => void;
}

export interface TarRunResult {
  /** 0, or 1 when files changed while tar read them. */
  readonly exitCode: number;
  readonly stderr: string;
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * `tar -cf - -C / cpaas/minio`: exactly the members `tar -cf X /cpaas/minio`
 * makes (no flags that change them). Its stdout goes once through Node:
 * written to the partial file, hashed, and parsed, with backpressure from
 * both the disk and the parser reaching tar through the pipe.
 */
export async function runTar(o: TarRunOptions): Promise<TarRunResult> {
  const stop = new AbortController();
  const child = execa('tar', ['-cf', '-', '-C', '/', memberPrefix(o.sourceDir)], {
    cancelSignal: AbortSignal.any([o.signal, stop.signal]),
    forceKillAfterDelay: 5000,
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 4 << 20 },
    stdin: 'ignore',
    reject: false,
    env: { LC_ALL: 'C' },
  });
  const file = createWriteStream(o.partialPath, { flush: true, highWaterMark: 1 << 20 });
  const tee = createTee(file, o.reader, o.onBytes);
  let streamError: unknown;
  try {
    await pipeline(child.stdout, tee.sink);
  } catch (err) {
    streamError = err;
    stop.abort();
  }
  const result = await child;
  if (o.signal.aborted) throw new BackupFailure('CANCELED', 'the backup was canceled');
  if (streamError !== undefined) throw streamFailure(streamError);
  const exitCode = result.exitCode ?? -1;
  if (exitCode !== 0 && exitCode !== 1) throw new BackupFailure('TAR_FAILED', `tar exited ${exitCode}: ${lastTarError(result.stderr)}`);
  return { exitCode, stderr: result.stderr, bytes: tee.bytes(), sha256: tee.sha256() };
}

function streamFailure(err: unknown): BackupFailure {
  if (errnoCode(err) === 'ENOSPC') return new BackupFailure('NO_SPACE', 'the backup filesystem ran out of space while writing the archive', { cause: err });
  return new BackupFailure('TAR_FAILED', 'the tar stream could not be written or parsed', { cause: err });
}

/** One writable feeding the file and the parser; a chunk is done when both took it. */
function createTee(file: Writable, reader: Writable, onBytes?: (n: number) => void) {
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: string | undefined;
  const sink: Writable = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(bytes);
      const waits: Promise<unknown>[] = [];
      if (!file.write(chunk)) waits.push(once(file, 'drain'));
      if (!reader.write(chunk)) waits.push(once(reader, 'drain'));
      if (waits.length === 0) cb();
      else
        Promise.all(waits).then(() => {
          cb();
        }, cb);
    },
    final(cb) {
      const done = Promise.all([once(file, 'close'), once(reader, 'finish')]);
      file.end();
      reader.end();
      done.then(() => {
        cb();
      }, cb);
    },
  });
  const fail = (err: Error) => {
    sink.destroy(err);
  };
  file.on('error', fail);
  reader.on('error', fail);
  sink.on('close', () => {
    if (!file.closed) file.destroy();
    if (!reader.writableFinished) reader.destroy();
  });
  return { sink, bytes: () => bytes, sha256: () => (digest ??= hash.digest('hex')) };
}
