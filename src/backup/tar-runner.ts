import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { errnoCode, errorMessage } from '../lib/errors.js';
import { createStreamGc } from '../lib/heap.js';
import { ArchiveFile } from './archive-file.js';
import { BackupFailure } from './job.js';
import { lastTarError } from './tar-messages.js';
import { memberPrefix } from './walk.js';

export interface TarRunOptions {
  readonly sourceDir: string;
  /** Where the archive is written (`<name>.partial`); fsynced when `durable` settles. */
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
  /**
   * Settles when the archive's last pages are on disk and the file is
   * closed (the final fsync), so the caller can walk the source meanwhile.
   * Rejects with a BackupFailure (NO_SPACE on ENOSPC).
   */
  readonly durable: Promise<void>;
}

/**
 * `tar -cf - -C / cpaas/minio`: exactly the members `tar -cf X /cpaas/minio`
 * makes (no flags that change them). Its stdout goes once through Node:
 * written to the partial file, hashed, and parsed, with backpressure from
 * both the disk and the parser reaching tar through the pipe.
 */
export async function runTar(o: TarRunOptions): Promise<TarRunResult> {
  // Opened before tar starts: its stdout must reach the pipeline in the same tick as the spawn.
  const file = await ArchiveFile.open(o.partialPath).catch((err: unknown) => {
    throw streamFailure(err);
  });
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
  const tee = createTee(file, o.reader, o.onBytes);
  let streamError: unknown;
  try {
    await pipeline(child.stdout, tee.sink);
  } catch (err) {
    streamError = err;
    stop.abort();
  }
  const result = await child;
  try {
    if (o.signal.aborted) throw new BackupFailure('CANCELED', 'the backup was canceled');
    if (streamError !== undefined) throw streamFailure(streamError);
    const exitCode = result.exitCode ?? -1;
    if (exitCode !== 0 && exitCode !== 1) throw new BackupFailure('TAR_FAILED', `tar exited ${exitCode}: ${lastTarError(result.stderr)}`);
    const durable = file.syncAndClose().catch((err: unknown) => {
      throw streamFailure(err);
    });
    // The caller awaits it after steps of its own; if one of those fails first, it must not go unhandled.
    durable.catch(() => undefined);
    return { exitCode, stderr: result.stderr, bytes: tee.bytes(), sha256: tee.sha256(), durable };
  } catch (err) {
    // The partial is the caller's to remove, once the file is closed.
    await file.abandon().catch(() => undefined);
    throw err;
  }
}

function streamFailure(err: unknown): BackupFailure {
  if (errnoCode(err) === 'ENOSPC') return new BackupFailure('NO_SPACE', 'the backup filesystem ran out of space while writing the archive', { cause: err });
  return new BackupFailure('TAR_FAILED', `the tar stream could not be written or parsed: ${errorMessage(err)}`, { cause: err });
}

/**
 * One writable feeding the file and the parser; a chunk is done when both
 * took it (the file gathers chunks into batches, the parser may lag 1 MiB).
 */
function createTee(file: ArchiveFile, reader: Writable, onBytes?: (n: number) => void) {
  const hash = createHash('sha256');
  // Forced GCs where `gc` is exposed keep the agent's RSS flat over a long stream (lib/heap.ts).
  const collect = createStreamGc();
  let bytes = 0;
  let digest: string | undefined;
  const sink: Writable = new Writable({
    highWaterMark: 1 << 16,
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(bytes);
      collect?.(chunk.length);
      const waits: Promise<unknown>[] = [];
      const written = file.write(chunk);
      if (written !== undefined) waits.push(written);
      if (!reader.write(chunk)) waits.push(once(reader, 'drain'));
      if (waits.length === 0) cb();
      else
        Promise.all(waits).then(() => {
          cb();
        }, cb);
    },
    // Done when every byte is written and parsed; the final fsync is `durable`'s.
    final(cb) {
      const done = Promise.all([file.flush(), once(reader, 'finish')]);
      reader.end();
      done.then(() => {
        cb();
      }, cb);
    },
  });
  reader.on('error', (err) => sink.destroy(err));
  sink.on('close', () => {
    if (!reader.writableFinished) reader.destroy();
  });
  return { sink, bytes: () => bytes, sha256: () => (digest ??= hash.digest('hex')) };
}
