/**
 * The exact size of the archive GNU tar writes by default (`--format=gnu`,
 * blocking factor 20), predicted from a walk. This replaces the manual
 * `ls -lh` against `du -sh`, which is wrong both ways (du counts allocated
 * blocks: many small files make it larger than the tar, sparse files smaller).
 */

export const blockSize = 512;
/** `-b20`: tar pads the archive to whole 20-block records. */
export const recordSize = 20 * blockSize;
/**
 * The header's name field. GNU tar (`--format=gnu`, 1.34) switches to a
 * `././@LongLink` member when a name or link target is longer than this: a
 * name of exactly 100 bytes fills the field with no NUL (create.c: a long
 * name when `NAME_FIELD_SIZE - (format == OLDGNU) < strlen(name)`).
 */
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

/** A `././@LongLink` member for a string of `len` UTF-8 bytes: a header plus the string and its NUL. */
function longMemberBytes(len: number): number {
  return len <= nameFieldSize ? 0 : blockSize + roundUp(len + 1, blockSize);
}

/** Bytes one member takes, long-name and long-link members included. */
export function memberBytes(member: TarMember): number {
  return memberBytesOf(Buffer.byteLength(member.name), member.type, member.size, member.linkTarget === undefined ? 0 : Buffer.byteLength(member.linkTarget));
}

/**
 * memberBytes from the name's UTF-8 length (`nameBytes`, a directory's
 * trailing `/` included) and the link target's (0 for none): what a walk
 * adds up per entry without building the name.
 */
export function memberBytesOf(nameBytes: number, type: MemberType, size: number, linkTargetBytes: number): number {
  const data = type === 'file' ? roundUp(size, blockSize) : 0;
  return longMemberBytes(nameBytes) + longMemberBytes(linkTargetBytes) + blockSize + data;
}

/** The archive size from the sum of member sizes: two end blocks, padded to the record. */
export function archiveBytes(membersTotal: number): number {
  return roundUp(membersTotal + 2 * blockSize, recordSize);
}
