import { createHash, hash as hashOnce, type Hash } from 'node:crypto';
import tarStream, { type Header } from 'tar-stream';
import type { Writable } from 'node:stream';

export interface ArchiveMember {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  readonly linkname?: string;
  /** sha256 of a regular file's content; for a hard link, that of its target. */
  readonly sha256?: string;
}

/**
 * Parses the tar stream as it is written (no second read of the source):
 * every member is reported with the sha256 of its content. `onMember` may
 * return a promise (a manifest write), which holds the parser: backpressure.
 */
export function createArchiveReader(
  onMember: (m: ArchiveMember) => unknown,
  linkTargets: ReadonlySet<string> = new Set(),
): Writable {
  // The parser may lag 1 MiB behind the tee (streamx's 16 KiB default made every chunk wait for it).
  const extract = tarStream.extract({ highWaterMark: 1 << 20 });
  // Hard-link targets' hashes, so a link's manifest line needs no second read.
  const hashes = new Map<string, string>();
  extract.on('entry', (header, stream, next) => {
    const isFile = header.type === 'file' || header.type === 'contiguous-file';
    // A small file usually comes whole in one chunk: hashed in one call, no Hash object.
    let whole: string | undefined;
    let hash: Hash | undefined;
    stream.on('data', (data: unknown) => {
      if (!isFile) return;
      const chunk = data as Buffer;
      if (hash === undefined && chunk.length === header.size) whole = hashOnce('sha256', chunk);
      else (hash ??= createHash('sha256')).update(chunk);
    });
    stream.on('end', () => {
      const sha256 = isFile ? (whole ?? hash?.digest('hex') ?? emptySha256) : linkHash(header, hashes);
      const member = toMember(header, sha256);
      if (member.sha256 !== undefined && linkTargets.has(member.name)) hashes.set(member.name, member.sha256);
      // No promise per member unless the consumer needs to hold the parser.
      const held = onMember(member);
      if (held instanceof Promise)
        held.then(() => {
          next();
        }, next);
      else next();
    });
    // A truncated stream (tar killed) errors the entry too; the extract itself reports it.
    stream.on('error', () => undefined);
    stream.resume();
  });
  // tar-stream 3 is built on streamx, whose writable has the same write/drain/finish contract.
  return extract as unknown as Writable;
}

const emptySha256 = createHash('sha256').digest('hex');

function linkHash(header: Header, hashes: ReadonlyMap<string, string>): string | undefined {
  return header.type === 'link' && header.linkname ? hashes.get(header.linkname) : undefined;
}

function toMember(header: Header, sha256: string | undefined): ArchiveMember {
  return {
    name: header.name,
    type: header.type,
    size: header.size,
    ...(header.linkname ? { linkname: header.linkname } : {}),
    ...(sha256 === undefined ? {} : { sha256 }),
  };
}
