import { createWriteStream, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';

/**
 * `sha256sum` line format. GNU coreutils escapes a name holding a backslash
 * or a newline by starting the line with `\` and writing `\\` and `\n`, so
 * `sha256sum -c` reads every name back exactly.
 */
export function sha256sumLine(hex: string, name: string): string {
  if (!/[\\\n\r]/.test(name)) return `${hex}  ${name}\n`;
  const escaped = name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `\\${hex}  ${escaped}\n`;
}

/** Bytes a manifest write gathers before it goes out. */
const manifestChunk = 1 << 16;

/**
 * Gathers manifest lines in 64 KiB buffers, written straight from the hash
 * and the name (one line per archived file: no string per line to build,
 * promote and convert again on the way out).
 */
export class ManifestLines {
  private buf = Buffer.allocUnsafe(manifestChunk);
  private used = 0;

  /** Adds a line; returns a full buffer to write out, if this one filled it. */
  add(hex: string, name: string): Buffer | undefined {
    // At most 3 bytes per UTF-16 unit; a longer or escaped name goes as a whole line.
    const most = hex.length + 3 + 3 * name.length;
    if (most > manifestChunk || /[\\\n\r]/.test(name)) return this.addLine(Buffer.from(sha256sumLine(hex, name)));
    const full = this.used + most > manifestChunk ? this.take() : undefined;
    const b = this.buf;
    let at = this.used + b.write(hex, this.used, 'latin1');
    b[at++] = 0x20;
    b[at++] = 0x20;
    at += b.write(name, at, 'utf8');
    b[at++] = 0x0a;
    this.used = at;
    return full;
  }

  /** What is gathered and not yet returned (possibly empty). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(manifestChunk);
    this.used = 0;
    return out;
  }

  private addLine(line: Buffer): Buffer | undefined {
    if (this.used + line.length <= manifestChunk) {
      line.copy(this.buf, this.used);
      this.used += line.length;
      return undefined;
    }
    return Buffer.concat([this.take(), line]);
  }
}

/**
 * The `.manifest` file being written: 64 KiB buffers of lines, with the
 * stream's backpressure and its failure both reaching the caller. A write
 * error (the backup filesystem full) must fail the backup: a plain
 * `once(stream, 'drain')` after it would wait for ever, since a destroyed
 * stream never drains.
 */
export class ManifestFile {
  private readonly stream: WriteStream;
  private readonly lines = new ManifestLines();
  private failure: Error | undefined;

  constructor(file: string) {
    // 0600 like the archive: the manifest lists every object path of the registry.
    this.stream = createWriteStream(file, { flush: true, mode: 0o600 });
    this.stream.on('error', (err) => {
      this.failure ??= err;
    });
  }

  /** Adds a file's line; a promise when the next line should wait (backpressure), rejected if the file failed. */
  add(hex: string, name: string): Promise<void> | undefined {
    const full = this.lines.add(hex, name);
    if (full === undefined) return undefined;
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return this.stream.write(full) ? undefined : this.drained();
  }

  /** Writes what is left and closes the file (fsynced: `flush`); rejects with the write error, if any. */
  async close(): Promise<void> {
    this.stream.end(this.lines.take());
    await finished(this.stream).catch((err: unknown) => {
      throw this.failure ?? err;
    });
    if (this.failure !== undefined) throw this.failure;
  }

  private drained(): Promise<void> {
    const s = this.stream;
    if (s.destroyed) return Promise.reject(this.failure ?? new Error('the manifest file was closed'));
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        s.off('drain', onDrain);
        s.off('close', onClose);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onDrain = () => {
        done();
      };
      // A failed stream emits 'error' (recorded above) and then 'close', never 'drain'.
      const onClose = () => {
        done(this.failure ?? new Error('the manifest file was closed'));
      };
      s.on('drain', onDrain);
      s.on('close', onClose);
    });
  }
}
