import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { asError, errnoCode, errorMessage } from '../lib/errors.js';
import { createStreamGc } from '../lib/heap.js';
import type { ArchiveSink } from './archive-reader.js';
import { BackupFailure } from './job.js';
import { lastTarError, tarRanOutOfSpace } from './tar-messages.js';
import { memberPrefix } from './walk.js';

export interface TarRunOptions {
  readonly sourceDir: string;
  /** Where tar writes the archive (`<name>.partial`); fsynced when `durable` settles. */
  readonly partialPath: string;
  /** Receives the archive's bytes in order (the archive parser). */
  readonly reader: ArchiveSink;
  readonly signal: AbortSignal;
  /** After each read is hashed and parsed: the archive's bytes so far. */
  readonly onBytes?: (total: number) => void;
  /** Called once tar is started (work for the main thread that need not delay tar). */
  readonly onStarted?: () => void;
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
   * Rejects with a BackupFailure.
   */
  readonly durable: Promise<void>;
}

/** Bytes per read of the archive behind tar (one hash update, one parser write). */
export const readBytes = 1 << 20;

/**
 * Bytes between two background fdatasyncs: the disk writes while tar reads
 * and Node hashes, instead of all at the final fsync (which is where
 * `tar -cf` + `sync` spends most of its time).
 */
export const writebackEvery = 32 << 20;

/** How long the reader waits when it has caught up with tar. */
const catchUpWaitMs = 3;

/** After this long without a full read (a slow disk or source), the reader takes what tar wrote. */
const slowTarMs = 50;

/**
 * `tar -cf <partial> -C / cpaas/minio`: exactly the members and bytes
 * `tar -cf X /cpaas/minio` makes. tar writes the archive file itself, and
 * Node reads it right behind tar, from the page cache, in 1 MiB reads:
 * hashed (the archive's sha256 is that of the bytes in the file) and parsed
 * (every member's sha256). The source is read once, by tar; tar never waits
 * for Node, and Node's memory is what it holds (two 1 MiB read buffers and
 * the parser's lag), whatever the archive size.
 *
 * Streaming tar's stdout through Node instead cost two more copies of every
 * byte (pipe and write) and a JavaScript turn per 64 KiB pipe read: 1.3–1.5×
 * the time on the benchmark trees (docs/backup.md).
 */
export async function runTar(o: TarRunOptions): Promise<TarRunResult> {
  // Created (0600) and opened before tar starts; tar truncates and fills this same inode.
  const file = await open(o.partialPath, 'w+', 0o600).catch((err: unknown) => {
    throw streamFailure(err);
  });
  const stop = new AbortController();
  const tar = await startTar(o, stop.signal);
  o.onStarted?.();
  const follower = follow(file, o, () => tar.exited);
  const followed = await followToEnd(follower.done, tar, stop);
  const result = await tar.ended;
  try {
    const exitCode = checkOutcome(o.signal, result, followed);
    await sameFile(file, o.partialPath);
    const durable = closeWhenDurable(file, follower);
    return { exitCode, stderr: result.stderr, bytes: follower.bytes(), sha256: follower.sha256(), durable };
  } catch (err) {
    // The partial is the caller's to remove, once the file is closed.
    await follower.syncing().catch(() => undefined);
    await file.close().catch(() => undefined);
    throw err;
  }
}

/** How tar ended, as far as the verdict needs it. */
interface TarExit {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stderr: string;
}

interface RunningTar {
  readonly ended: Promise<TarExit>;
  /** Set once tar has exited (read by the follower to know the archive is whole). */
  exited: boolean;
}

async function startTar(o: TarRunOptions, stop: AbortSignal): Promise<RunningTar> {
  const tarArgs = ['--force-local', '-cf', o.partialPath, '-C', '/', memberPrefix(o.sourceDir)];
  const child = execa(...(await tarCommand(tarArgs)), {
    cancelSignal: AbortSignal.any([o.signal, stop]),
    forceKillAfterDelay: 5000,
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 4 << 20 },
    stdin: 'ignore',
    stdout: 'ignore',
    reject: false,
    env: { LC_ALL: 'C' },
  });
  const tar: RunningTar = {
    exited: false,
    ended: child.then((r) => {
      tar.exited = true;
      return { exitCode: r.exitCode, signal: r.signal, stderr: r.stderr };
    }),
  };
  return tar;
}

/** The follower's failure, and whether it came while tar still ran. */
interface FollowEnd {
  readonly error: unknown;
  readonly first: boolean;
}

/**
 * Waits for the follower. A read or parse failure while tar still runs is
 * the cause (tar is then stopped); one after tar failed on its own is the
 * consequence (a truncated archive).
 */
async function followToEnd(done: Promise<void>, tar: RunningTar, stop: AbortController): Promise<FollowEnd> {
  try {
    await done;
    return { error: undefined, first: false };
  } catch (err) {
    const first = !tar.exited;
    stop.abort();
    return { error: err, first };
  }
}

/** tar's exit code (0, or 1 for files changed while read); throws the failure that ended the stream. */
function checkOutcome(signal: AbortSignal, result: TarExit, followed: FollowEnd): number {
  if (signal.aborted) throw new BackupFailure('CANCELED', 'the backup was canceled');
  if (followed.first) throw streamFailure(followed.error);
  const exitCode = result.exitCode ?? -1;
  if (exitCode !== 0 && exitCode !== 1) throw tarFailure(result, exitCode);
  if (followed.error !== undefined) throw streamFailure(followed.error);
  return exitCode;
}

function tarFailure(result: TarExit, exitCode: number): BackupFailure {
  if (tarRanOutOfSpace(result.stderr)) return new BackupFailure('NO_SPACE', `the backup filesystem ran out of space while tar wrote the archive: ${lastTarError(result.stderr)}`);
  return new BackupFailure('TAR_FAILED', `tar exited ${result.signal ?? exitCode}: ${lastTarError(result.stderr)}`);
}

/** Settles once the archive's last pages are on disk (the final fsync) and the file is closed. */
function closeWhenDurable(file: FileHandle, follower: Follower): Promise<void> {
  const durable = follower.syncing().then(() => file.sync()).catch((err: unknown) => {
    throw streamFailure(err);
  }).finally(() => file.close());
  // The caller awaits it after steps of its own; if one of those fails first, it must not go unhandled.
  durable.catch(() => undefined);
  return durable;
}

type Follower = ReturnType<typeof follow>;

/**
 * Reads the archive as tar writes it: full 1 MiB reads while tar runs
 * (a short wait when caught up, so reads stay large; what there is when tar
 * has been slow for 50 ms, so progress never stalls), the rest once tar has
 * exited. Each read goes to the archive hash and then to the parser, whose
 * backpressure (a manifest write) holds the next read.
 *
 * Two buffers, allocated once: the next read fills one (on libuv's thread
 * pool, a page-cache copy) while the main thread hashes and parses the
 * other, so the main thread, the stream's bottleneck, never waits for a
 * read; and no buffer is allocated, faulted in and collected per read.
 */
function follow(file: FileHandle, o: TarRunOptions, tarExited: () => boolean) {
  const hash = createHash('sha256');
  const collect = createStreamGc();
  let filling = Buffer.allocUnsafeSlow(readBytes);
  let spare = Buffer.allocUnsafeSlow(readBytes);
  /** Bytes hashed and parsed. */
  let pos = 0;
  /** Bytes read (at most one read ahead of `pos`). */
  let readTo = 0;
  /** The archive's size at the last fstat (only grows while tar runs). */
  let knownSize = 0;
  let lastRead = performance.now();
  let flushedTo = 0;
  let syncing: Promise<void> | undefined;
  let syncFailure: Error | undefined;
  let digest: string | undefined;
  const startWriteback = () => {
    if (syncing !== undefined || pos - flushedTo < writebackEvery) return;
    flushedTo = pos;
    syncing = file.datasync().then(
      () => {
        syncing = undefined;
      },
      (err: unknown) => {
        syncFailure ??= asError(err);
        syncing = undefined;
      },
    );
  };
  const readInto = async (buf: Buffer, want: number): Promise<Buffer | undefined> => {
    const { bytesRead } = await file.read(buf, 0, want, readTo);
    if (bytesRead === 0) return undefined;
    readTo += bytesRead;
    lastRead = performance.now();
    return bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
  };
  /** The next chunk of the archive in `buf`, or undefined at its end (tar exited, all read). */
  const nextChunk = async (buf: Buffer): Promise<Buffer | undefined> => {
    for (;;) {
      if (o.signal.aborted) return undefined;
      // tar is done: whatever is in the file is the whole archive.
      if (tarExited()) return readInto(buf, readBytes);
      // The size seen last time may already hold a full read (Node behind tar): no fstat then.
      if (knownSize - readTo >= readBytes) return readInto(buf, readBytes);
      knownSize = (await file.stat()).size;
      const ready = knownSize - readTo;
      // Full reads while tar is ahead; what there is once tar has been slow for a while.
      if (ready >= readBytes || (ready > 0 && performance.now() - lastRead >= slowTarMs)) return readInto(buf, Math.min(ready, readBytes));
      await sleep(catchUpWaitMs);
    }
  };
  const run = async () => {
    let next = nextChunk(filling);
    try {
      for (;;) {
        const chunk = await next;
        if (chunk === undefined) break;
        [filling, spare] = [spare, filling];
        next = nextChunk(filling);
        hash.update(chunk);
        pos += chunk.length;
        const held = o.reader.push(chunk);
        o.onBytes?.(pos);
        collect?.(chunk.length);
        startWriteback();
        if (held !== undefined) await held;
        if (syncFailure !== undefined) throw syncFailure;
      }
    } finally {
      // A read still in flight when this ends early: nothing waits for it.
      next.catch(() => undefined);
    }
    if (o.signal.aborted) return;
    o.reader.end();
  };
  return {
    done: run(),
    bytes: () => pos,
    sha256: () => (digest ??= hash.digest('hex')),
    /** Waits for the background fdatasync in flight, and reports its error. */
    syncing: async () => {
      await syncing;
      if (syncFailure !== undefined) throw syncFailure;
    },
  };
}

/** tar must have written the inode Node read (GNU tar truncates an existing archive in place). */
async function sameFile(file: FileHandle, partialPath: string): Promise<void> {
  const [a, b] = await Promise.all([file.stat(), stat(partialPath).catch(() => undefined)]);
  if (b === undefined || a.ino !== b.ino || a.dev !== b.dev)
    throw new BackupFailure('TAR_FAILED', `tar replaced ${partialPath} instead of writing the file node-ca read`);
}

let setprivFound: Promise<boolean> | undefined;

/**
 * tar under `setpriv --pdeathsig KILL` (util-linux) where it is on PATH: tar
 * writes the archive itself, so if the agent is killed (-9) nothing else
 * would stop it, and a restarted agent would find it still writing.
 */
async function tarCommand(args: string[]): Promise<[string, string[]]> {
  setprivFound ??= onPath('setpriv');
  return (await setprivFound) ? ['setpriv', ['--pdeathsig', 'KILL', '--', 'tar', ...args]] : ['tar', args];
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    try {
      await access(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function streamFailure(err: unknown): BackupFailure {
  if (err instanceof BackupFailure) return err;
  if (errnoCode(err) === 'ENOSPC') return new BackupFailure('NO_SPACE', 'the backup filesystem ran out of space while writing the archive', { cause: err });
  return new BackupFailure('TAR_FAILED', `the archive could not be read back or parsed: ${errorMessage(err)}`, { cause: err });
}
