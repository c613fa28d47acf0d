import type { BackupFailureCode, BackupVerification } from './job.js';
import type { SourceWalk, WalkEntry } from './walk.js';

/** Longest `changedDuringBackup` list kept in a job (a live MinIO can change many files). */
export const maxListed = 1000;

/** The source-relative path of an archive member name, or undefined when outside the source. */
export function relativeOf(prefix: string, name: string): string | undefined {
  // Called for every archive member: no regex, one slice.
  let end = name.length;
  while (end > 0 && name.charCodeAt(end - 1) === slash) end--;
  if (!name.startsWith(prefix)) return undefined;
  if (end === prefix.length) return '';
  return end > prefix.length + 1 && name.charCodeAt(prefix.length) === slash ? name.slice(prefix.length + 1, end) : undefined;
}

const slash = 0x2f;

const tarTypes: Readonly<Record<string, WalkEntry['type']>> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'directory',
  symlink: 'symlink',
  link: 'link',
  fifo: 'other',
  'character-device': 'other',
  'block-device': 'other',
};

/** The walk's type for a tar member type (a member without one is a file). */
function walkTypeOf(tarType: string | null | undefined): WalkEntry['type'] {
  return tarTypes[tarType ?? 'file'] ?? 'other';
}

/** Checks archive members against the walk taken before the backup: names, types, sizes. */
export class ArchiveCheck {
  files = 0;
  bytes = 0;
  readonly mismatched: string[] = [];
  /**
   * Members the walk did not see: created after it (tar archives what is
   * there when it lists a directory), so a change, not a verification error.
   */
  readonly added: string[] = [];
  private readonly seen: Uint8Array;
  /** Where the next member is expected in the walk (members come in walk order). */
  private next = 0;

  constructor(
    private readonly before: SourceWalk,
    private readonly prefix: string,
  ) {
    this.seen = new Uint8Array(before.entries.size);
  }

  observe(header: { name: string; type?: string | null; size?: number }): void {
    const type = walkTypeOf(header.type);
    const size = type === 'file' ? (header.size ?? 0) : 0;
    if (type === 'file') {
      this.files += 1;
      this.bytes += size;
    }
    const rel = relativeOf(this.prefix, header.name);
    if (rel === undefined) {
      this.mismatched.push(header.name);
      return;
    }
    const want = this.before.entries.get(rel, this.next);
    if (want === undefined) {
      this.added.push(rel);
      return;
    }
    this.next = want.index + 1;
    if (want.type !== type || want.size !== size) this.mismatched.push(rel);
    else this.seen[want.index] = 1;
  }

  /** How far the archive has come in walk order: every entry before this position has passed. */
  get passed(): number {
    return this.next;
  }

  /** Walked entries (sockets aside, which tar skips) that no member matched. */
  missing(): string[] {
    const out: string[] = [];
    for (const [rel, e] of this.before.entries) if (this.seen[e.index] === 0 && e.type !== 'socket') out.push(rel);
    return out;
  }
}

export interface VerifyInput {
  readonly before: SourceWalk;
  readonly check: ArchiveCheck;
  readonly archiveBytes: number;
  /** From both walks, tar's own "file changed as we read it" warnings and members the first walk did not see. */
  readonly changed: readonly string[];
  readonly allowChanges: boolean;
}

export interface VerifyOutcome {
  readonly verification: BackupVerification;
  readonly failure?: { code: BackupFailureCode; message: string };
}

/** The verdict: unexplained differences fail, changes fail unless allowed. */
export function verifyBackup(input: VerifyInput): VerifyOutcome {
  const { before, check } = input;
  const changed = [...new Set(input.changed)].sort();
  const changedSet = new Set(changed);
  const unexplained = [...check.mismatched, ...check.missing()].filter((p) => !changedSet.has(p));
  const sizeOk = changed.length > 0 || input.archiveBytes === before.expectedArchiveBytes;
  const verification: BackupVerification = {
    sourceFiles: before.files,
    sourceBytes: before.bytes,
    sourceDiskBytes: before.diskBytes,
    archiveFiles: check.files,
    archiveBytes: check.bytes,
    expectedArchiveBytes: before.expectedArchiveBytes,
    matched: changed.length === 0 && unexplained.length === 0 && sizeOk,
    changedDuringBackup: changed.slice(0, maxListed).map(shown),
  };
  return { verification, ...failureOf(input, unexplained, sizeOk, changed.length) };
}

/** The source directory itself is `.` where a person reads a path (its relative path is empty). */
function shown(relative: string): string {
  return relative === '' ? '.' : relative;
}

function failureOf(input: VerifyInput, unexplained: string[], sizeOk: boolean, changed: number): Pick<VerifyOutcome, 'failure'> {
  if (unexplained.length > 0)
    return { failure: { code: 'VERIFY_FAILED', message: `${unexplained.length} archive entries differ from the source, e.g. ${unexplained.slice(0, 3).map(shown).join(', ')}` } };
  if (!sizeOk)
    return { failure: { code: 'VERIFY_FAILED', message: `archive is ${input.archiveBytes} bytes, expected ${input.before.expectedArchiveBytes}` } };
  if (changed > 0 && !input.allowChanges)
    return { failure: { code: 'SOURCE_CHANGED', message: `${changed} paths changed during the backup; stop writes or set allowChanges` } };
  return {};
}
