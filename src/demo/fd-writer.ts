import { writeSync } from 'node:fs';
import { errnoCode } from '../lib/errors.js';

/** A synchronous writer to a file descriptor (the demo's stdout and stderr); also a pino destination. */
export interface FdWriter {
  write(text: string): boolean;
}

/**
 * Writes that outlive the terminal: once a write fails for good (EIO after the
 * terminal closed, EPIPE after the reader left), later text is dropped, so
 * the demo still stops and removes its sandbox on SIGHUP. pino's own
 * destination (sonic-boom 4) retries such a write forever when it flushes at
 * exit, and a failed `process.stdout.write` is an uncaught 'error' event.
 */
export function createFdWriter(fd: number): FdWriter {
  let open = true;
  return {
    write(text) {
      if (open) open = writeAll(fd, Buffer.from(text));
      return true;
    },
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** True once all of `data` is written; false when the descriptor fails (EAGAIN is waited out). */
function writeAll(fd: number, data: Buffer): boolean {
  let rest = data;
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (err) {
      if (errnoCode(err) !== 'EAGAIN') return false;
      // A non-blocking pipe that is full: its reader drains it.
      Atomics.wait(pause, 0, 0, 10);
    }
  }
  return true;
}
