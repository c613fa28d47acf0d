import { Writable } from 'node:stream';
import { asError } from '../lib/errors.js';
import { TarParser, type TarMember } from './tar-parser.js';

/** A member as the backup checks it; for a hard link, `sha256` is that of its target. */
export type ArchiveMember = TarMember;

/**
 * Parses the tar stream as it is written (no second read of the source):
 * every member is reported with the sha256 of its content. `onMember` may
 * return a promise (a manifest write): the next chunk waits for it, which
 * is the backpressure; a chunk is at most 1 MiB, so the members of one
 * chunk are what is held meanwhile.
 */
export function createArchiveReader(
  onMember: (m: ArchiveMember) => unknown,
  linkTargets: ReadonlySet<string> = new Set(),
): Writable {
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
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, callback) {
      try {
        parser.push(chunk);
      } catch (err) {
        callback(asError(err));
        return;
      }
      const wait = held;
      held = undefined;
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
        parser.end();
        callback();
      } catch (err) {
        callback(asError(err));
      }
    },
  });
}
