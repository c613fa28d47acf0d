import { Writable } from 'node:stream';
import { asError } from '../lib/errors.js';
import { TarParser, type TarMember } from './tar-parser.js';

/** A member as the backup checks it; for a hard link, `sha256` is that of its target. */
export type ArchiveMember = TarMember;

/**
 * The archive's bytes in, members out. `push` parses a chunk synchronously
 * and keeps nothing of it, so the caller may refill the same buffer; the
 * promise it may return (a manifest write waiting on disk) is the
 * backpressure: the next push should wait for it.
 */
export interface ArchiveSink {
  push(chunk: Buffer): Promise<unknown> | undefined;
  /** The archive is all in; throws when it was cut short. */
  end(): void;
}

/**
 * Parses the tar stream as it is written (no second read of the source):
 * every member is reported with the sha256 of its content. `onMember` may
 * return a promise (a manifest write): `push` returns it, so the members of
 * one chunk are what is held meanwhile.
 */
export function createArchiveSink(
  onMember: (m: ArchiveMember) => unknown,
  linkTargets: ReadonlySet<string> = new Set(),
): ArchiveSink {
  // Hard-link targets' hashes, so a link's manifest line needs no second read.
  const hashes = new Map<string, string>();
  let held: Promise<unknown> | undefined;
  const parser = new TarParser((m) => {
    const sha256 = m.type === 'link' && m.linkname !== undefined ? hashes.get(m.linkname) : undefined;
    const member = sha256 === undefined ? m : { ...m, sha256 };
    if (member.sha256 !== undefined && linkTargets.has(member.name)) hashes.set(member.name, member.sha256);
    const wait = onMember(member);
    if (wait instanceof Promise) held = held === undefined ? wait : Promise.all([held, wait]);
  });
  return {
    push(chunk) {
      parser.push(chunk);
      const wait = held;
      held = undefined;
      return wait;
    },
    end() {
      parser.end();
    },
  };
}

/** The same parse as a Writable stream (an archive downloaded over HTTP). */
export function createArchiveReader(onMember: (m: ArchiveMember) => unknown, linkTargets?: ReadonlySet<string>): Writable {
  const sink = createArchiveSink(onMember, linkTargets);
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, callback) {
      let wait: Promise<unknown> | undefined;
      try {
        wait = sink.push(chunk);
      } catch (err) {
        callback(asError(err));
        return;
      }
      if (wait === undefined) callback();
      else
        wait.then(
          () => {
            callback();
          },
          (err: unknown) => {
            callback(asError(err));
          },
        );
    },
    final(callback) {
      try {
        sink.end();
        callback();
      } catch (err) {
        callback(asError(err));
      }
    },
  });
}
