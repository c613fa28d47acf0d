import { open, type FileHandle } from 'node:fs/promises';

/**
 * Bytes gathered before one writev. tar writes 10 KiB records and a pipe
 * read is at most 64 KiB; one thread-pool write per chunk cost about 30 µs
 * of CPU each here, more than hashing the chunk.
 */
export const batchBytes = 1 << 20;

/**
 * Bytes between two background fdatasyncs: the disk writes while tar reads
 * and Node hashes, instead of all at the final fsync (which is where
 * `tar -cf` + `sync` spends most of its time).
 */
export const writebackEvery = 32 << 20;

/**
 * The partial archive: chunks copied in order into `batchBytes` buffers
 * that are reused once written (one write in flight, the next batch
 * gathering), pushed to disk as it grows, fsynced and closed at the end. The
 * first error (EIO, ENOSPC) is kept and returned by every later call.
 *
 * The copy is what keeps memory flat: a pipe read's buffer, kept by
 * reference until its batch was written, outlived a scavenge and then
 * waited for a mark-compact, so up to 60 MiB of them piled up in the
 * agent's RSS. Copied, it dies young; the copy costs about 0.1 s per GiB.
 */
export class ArchiveFile {
  /** Full batches waiting for the write in flight (oldest first). */
  private full: Buffer[] = [];
  private filling: Buffer | undefined;
  private fill = 0;
  private spare: Buffer[] = [];
  private inFlight: Promise<void> | undefined;
  private written = 0;
  private flushedTo = 0;
  private syncing: Promise<void> | undefined;
  private failure: Error | undefined;

  private constructor(private readonly handle: FileHandle) {}

  static async open(file: string): Promise<ArchiveFile> {
    return new ArchiveFile(await open(file, 'w'));
  }

  /**
   * Takes a copy of a chunk (the caller may reuse it at once). Returns a
   * promise to wait for when two batches' worth are pending: backpressure.
   */
  write(chunk: Buffer): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    let at = 0;
    while (at < chunk.length) {
      const into = (this.filling ??= this.spare.pop() ?? Buffer.allocUnsafeSlow(batchBytes));
      const n = chunk.copy(into, this.fill, at);
      at += n;
      this.fill += n;
      if (this.fill === batchBytes) this.seal();
    }
    return this.full.length >= 2 ? this.inFlight : undefined;
  }

  /** Writes what is gathered; resolves when every byte taken reached the file (not yet synced). */
  async flush(): Promise<void> {
    if (this.fill > 0) this.seal();
    while (this.inFlight !== undefined) await this.inFlight;
    if (this.failure !== undefined) throw this.failure;
  }

  /** After `flush`: waits for the background writeback, fsyncs, closes. */
  async syncAndClose(): Promise<void> {
    try {
      await this.syncing;
      if (this.failure !== undefined) throw this.failure;
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
  }

  /** Closes without syncing once nothing is in flight (the partial is about to be removed). */
  async abandon(): Promise<void> {
    await this.inFlight;
    await this.syncing;
    await this.handle.close();
  }

  /** The gathering batch is done: queue it and start a write if none is in flight. */
  private seal(): void {
    if (this.filling === undefined) return;
    this.full.push(this.filling.subarray(0, this.fill));
    this.filling = undefined;
    this.fill = 0;
    this.startWrite();
  }

  private startWrite(): void {
    const batch = this.full[0];
    if (this.inFlight !== undefined || batch === undefined || this.failure !== undefined) return;
    this.inFlight = writeAll(this.handle, [batch]).then(
      (n) => {
        this.written += n;
        this.full.shift();
        // The whole buffer back to the spares (a flushed batch is a shorter view of it).
        if (this.spare.length < 2) this.spare.push(Buffer.from(batch.buffer, batch.byteOffset, batchBytes));
        this.inFlight = undefined;
        this.startWriteback();
        this.startWrite();
      },
      (err: unknown) => {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
        this.inFlight = undefined;
      },
    );
  }

  /** One fdatasync at a time, off the main thread; its error fails the file. */
  private startWriteback(): void {
    if (this.syncing !== undefined || this.written - this.flushedTo < writebackEvery) return;
    this.flushedTo = this.written;
    this.syncing = this.handle.datasync().then(
      () => {
        this.syncing = undefined;
      },
      (err: unknown) => {
        this.failure ??= err instanceof Error ? err : new Error(String(err));
        this.syncing = undefined;
      },
    );
  }
}

/** writev until every byte is written (a regular file may take a short write). */
async function writeAll(handle: FileHandle, chunks: Buffer[]): Promise<number> {
  let total = 0;
  for (const c of chunks) total += c.length;
  let done = 0;
  let pending = chunks;
  while (done < total) {
    const { bytesWritten } = await handle.writev(pending);
    if (bytesWritten === 0) throw new Error('writev wrote nothing');
    done += bytesWritten;
    pending = dropBytes(pending, bytesWritten);
  }
  return total;
}

/** `chunks` without their first `n` bytes (after a short write). */
export function dropBytes(chunks: Buffer[], n: number): Buffer[] {
  let i = 0;
  let left = n;
  while (i < chunks.length && left >= (chunks[i]?.length ?? 0)) left -= chunks[i++]?.length ?? 0;
  const rest = chunks.slice(i);
  const first = rest[0];
  if (first !== undefined && left > 0) rest[0] = first.subarray(left);
  return rest;
}
