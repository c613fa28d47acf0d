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

/** Chunks are gathered to this size before a write: tar's 10 KiB pipe reads would cost one thread-pool write each. */
const batchBytes = 1 << 20;

/** One writable feeding the file and the parser; a batch is done when both took it. */
function createTee(file: Writable, reader: Writable, onBytes?: (n: number) => void) {
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: string | undefined;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = (cb: (err?: Error | null) => void) => {
    const batch = pending.length === 1 ? (pending[0] ?? Buffer.alloc(0)) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    const waits: Promise<unknown>[] = [];
    if (!file.write(batch)) waits.push(once(file, 'drain'));
    if (!reader.write(batch)) waits.push(once(reader, 'drain'));
    if (waits.length === 0) cb();
    else
      Promise.all(waits).then(() => {
        cb();
      }, cb);
  };
  const sink: Writable = new Writable({
    highWaterMark: batchBytes,
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(bytes);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= batchBytes) flush(cb);
      else cb();
    },
    final(cb) {
      const end = () => {
        const done = Promise.all([once(file, 'close'), once(reader, 'finish')]);
        file.end();
        reader.end();
        done.then(() => {
          cb();
        }, cb);
      };
      if (pendingBytes > 0)
        flush((err) => {
          if (err) cb(err);
          else end();
        });
      else end();
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
