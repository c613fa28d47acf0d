/**
 * The exact size of the archive GNU tar writes by default (`--format=gnu`,
 * blocking factor 20), predicted from a walk. This replaces the manual
 * `ls -lh` against `du -sh`, which is wrong both ways (du counts allocated
 * blocks: many small files make it larger than the tar, sparse files smaller).
 */

export const blockSize = 512;
/** `-b20`: tar pads the archive to whole 20-block records. */
export const recordSize = 20 * blockSize;
/** GNU tar switches to a `././@LongLink` member when a name or link target has this many bytes or more. */
export const nameFieldSize = 100;

/** What one walked entry becomes in the archive. */
export type MemberType = 'file' | 'directory' | 'symlink' | 'link' | 'other';

export interface TarMember {
  /** The member name as tar writes it (directories end with `/`). */
  readonly name: string;
  readonly type: MemberType;
  /** Content bytes; only regular files carry data. */
  readonly size: number;
  /** Symlink target or, for a hard link, the name of the first member of that inode. */
  readonly linkTarget?: string;
}

export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** A `././@LongLink` member for a long string: a header plus the string and its NUL. */
function longMemberBytes(text: string): number {
  const len = Buffer.byteLength(text);
  return len < nameFieldSize ? 0 : blockSize + roundUp(len + 1, blockSize);
}

/** Bytes one member takes, long-name and long-link members included. */
export function memberBytes(member: TarMember): number {
  const data = member.type === 'file' ? roundUp(member.size, blockSize) : 0;
  const link = member.linkTarget === undefined ? 0 : longMemberBytes(member.linkTarget);
  return longMemberBytes(member.name) + link + blockSize + data;
}

/** The archive size from the sum of member sizes: two end blocks, padded to the record. */
export function archiveBytes(membersTotal: number): number {
  return roundUp(membersTotal + 2 * blockSize, recordSize);
}
