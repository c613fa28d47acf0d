import { createHash, hash as hashOnce, type Hash } from 'node:crypto';

/**
 * A member of a tar archive as the backup verifies it. Type names are
 * tar-stream's, so either parser can feed the same checks.
 */
export interface TarMember {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  readonly linkname?: string;
  /** sha256 of a regular file's content. */
  readonly sha256?: string;
}

/** A member while its data passes: its hash is set on it before it is reported. */
type Building = { -readonly [K in keyof TarMember]: TarMember[K] };

const block = 512;
/** Longest GNU long name / long link / pax header kept (a corrupt size must not allocate gigabytes). */
const maxMetaBytes = 1 << 20;

const typeNames: Readonly<Record<number, string>> = {
  0: 'file',
  48: 'file', // '0'
  49: 'link',
  50: 'symlink',
  51: 'character-device',
  52: 'block-device',
  53: 'directory',
  54: 'fifo',
  55: 'contiguous-file',
  76: 'gnu-long-path', // 'L'
  75: 'gnu-long-link-path', // 'K'
  120: 'pax-header', // 'x'
  103: 'pax-global-header', // 'g'
};

export class TarFormatError extends Error {}

/**
 * A streaming parser of the archives GNU tar writes (its default gnu format
 * with `L`/`K` long names, ustar with the name prefix, pax `x` headers for
 * path, linkpath and size), fed the archive's bytes in chunks of any size.
 * Every member is reported once its data has passed, with the sha256 of a
 * regular file's content: in one `crypto.hash` call when the file lies
 * whole in one chunk, the common case for small files.
 *
 * Why not tar-stream: it makes every member a stream with its own events,
 * buffers and header object; on 200,000 small files that was about a third
 * of the backup's main-thread time (parsing plus the garbage it leaves), on
 * the thread that is the stream's bottleneck. Its behaviour is the reference
 * in the tests: the same members, names, types, sizes and hashes, archive by
 * archive and chunking by chunking (test/unit/backup/tar-parser.test.ts).
 */
export class TarParser {
  /** Bytes of the current header gathered so far (a header split across chunks). */
  private readonly header = Buffer.alloc(block);
  private headerHave = 0;
  /** Data bytes of the current member still to come, then padding to skip. */
  private dataLeft = 0;
  private padLeft = 0;
  private current: Building | undefined;
  private hash: Hash | undefined;
  /** A long name, long link or pax header being gathered: its type and data so far. */
  private meta: { type: string; parts: Buffer[] } | undefined;
  private pendingName: string | undefined;
  private pendingLink: string | undefined;
  private pendingSize: number | undefined;
  private ended = false;

  constructor(private readonly onMember: (m: TarMember) => void) {}

  /** Parses one chunk; throws TarFormatError on a corrupt header. */
  push(chunk: Buffer): void {
    let off = 0;
    const len = chunk.length;
    while (off < len && !this.ended) {
      if (this.dataLeft > 0) off = this.data(chunk, off);
      else if (this.padLeft > 0) off = this.skipPadding(len, off);
      // A header, whole in this chunk (the usual case) or gathered across chunks.
      else if (this.headerHave === 0 && len - off >= block) {
        this.onHeader(chunk, off);
        off += block;
      } else off = this.gatherHeader(chunk, off);
    }
  }

  /** The archive's bytes are all in: anything left half-read is a truncated archive. */
  end(): void {
    if (this.dataLeft > 0 || this.headerHave > 0 || this.current !== undefined || this.meta !== undefined)
      throw new TarFormatError('unexpected end of the archive (truncated in the middle of a member)');
  }

  private skipPadding(len: number, off: number): number {
    const n = Math.min(this.padLeft, len - off);
    this.padLeft -= n;
    return off + n;
  }

  /** Copies what the chunk holds of a header that straddles chunks; parses it once whole. */
  private gatherHeader(chunk: Buffer, off: number): number {
    const n = Math.min(block - this.headerHave, chunk.length - off);
    chunk.copy(this.header, this.headerHave, off, off + n);
    this.headerHave += n;
    if (this.headerHave === block) {
      this.headerHave = 0;
      this.onHeader(this.header, 0);
    }
    return off + n;
  }

  private data(chunk: Buffer, off: number): number {
    const n = Math.min(this.dataLeft, chunk.length - off);
    const cur = this.current;
    if (this.meta !== undefined) {
      this.meta.parts.push(Buffer.from(chunk.subarray(off, off + n)));
    } else if (cur !== undefined && isFile(cur.type)) {
      if (this.hash === undefined && n === cur.size) {
        this.dataLeft = 0;
        this.finish(hashOnce('sha256', chunk.subarray(off, off + n)));
        return off + n;
      }
      (this.hash ??= createHash('sha256')).update(chunk.subarray(off, off + n));
    }
    this.dataLeft -= n;
    if (this.dataLeft === 0) this.afterData();
    return off + n;
  }

  private afterData(): void {
    if (this.meta !== undefined) {
      this.onMeta(this.meta.type, Buffer.concat(this.meta.parts));
      return;
    }
    const cur = this.current;
    if (cur === undefined) return;
    let sha256: string | undefined;
    if (isFile(cur.type)) sha256 = this.hash?.digest('hex') ?? emptySha256;
    this.finish(sha256);
  }

  private finish(sha256: string | undefined): void {
    const cur = this.current;
    this.current = undefined;
    this.hash = undefined;
    if (cur === undefined) return;
    if (sha256 !== undefined) cur.sha256 = sha256;
    this.onMember(cur);
  }

  private onHeader(buf: Buffer, at: number): void {
    if (isZeroBlock(buf, at)) {
      this.endOfArchive();
      return;
    }
    if (!checksumOk(buf, at)) throw new TarFormatError('invalid tar header (checksum mismatch): the archive is corrupt');
    const type = typeNames[buf[at + 156] ?? 0] ?? 'other';
    const size = this.memberSize(buf, at, type);
    this.dataLeft = size;
    this.padLeft = (block - (size % block)) % block;
    if (metaTypes.has(type)) this.startMeta(type, size);
    else this.current = this.member(buf, at, type, size);
    if (size === 0) this.afterData();
  }

  /** End of archive (GNU tar writes two zero blocks, then pads the record). */
  private endOfArchive(): void {
    if (this.pendingName !== undefined || this.pendingLink !== undefined) throw new TarFormatError('the archive ends after a long-name header');
    this.ended = true;
  }

  /** A pax header's size, else the header's; only files (and the metadata members) carry data, a link's or directory's size field is 0. */
  private memberSize(buf: Buffer, at: number, type: string): number {
    const size = this.pendingSize ?? (hasNoData(type) ? 0 : readSize(buf, at + 124));
    this.pendingSize = undefined;
    return size;
  }

  private startMeta(type: string, size: number): void {
    if (size > maxMetaBytes) throw new TarFormatError(`a ${type} member of ${size} bytes: the archive is corrupt`);
    this.meta = { type, parts: [] };
  }

  /** The member a header starts, with the long name or link a GNU or pax header gave it. */
  private member(buf: Buffer, at: number, type: string, size: number): Building {
    let name = this.pendingName ?? readString(buf, at, 100);
    if (this.pendingName === undefined && isUstar(buf, at)) {
      const prefix = readString(buf, at + 345, 155);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    const linkname = this.pendingLink ?? readString(buf, at + 157, 100);
    this.pendingName = undefined;
    this.pendingLink = undefined;
    return linkname === '' ? { name, type, size } : { name, type, size, linkname };
  }

  private onMeta(type: string, data: Buffer): void {
    this.meta = undefined;
    if (type === 'gnu-long-path') this.pendingName = cString(data);
    else if (type === 'gnu-long-link-path') this.pendingLink = cString(data);
    else if (type === 'pax-header') {
      for (const [key, value] of paxRecords(data)) {
        if (key === 'path') this.pendingName = value;
        else if (key === 'linkpath') this.pendingLink = value;
        else if (key === 'size') this.pendingSize = Number(value);
      }
    }
  }
}

const emptySha256 = createHash('sha256').digest('hex');

const metaTypes: ReadonlySet<string> = new Set(['gnu-long-path', 'gnu-long-link-path', 'pax-header', 'pax-global-header']);

function hasNoData(type: string): boolean {
  return type === 'link' || type === 'symlink' || type === 'directory';
}

function isFile(type: string): boolean {
  return type === 'file' || type === 'contiguous-file';
}

function isZeroBlock(buf: Buffer, at: number): boolean {
  for (let i = at; i < at + block; i++) if (buf[i] !== 0) return false;
  return true;
}

/** The header's checksum: the sum of its bytes with the checksum field read as spaces. */
function checksumOk(buf: Buffer, at: number): boolean {
  let sum = 8 * 32;
  for (let i = at; i < at + 148; i++) sum += buf[i] ?? 0;
  for (let i = at + 156; i < at + block; i++) sum += buf[i] ?? 0;
  return sum === readOctal(buf, at + 148, 8);
}

function isUstar(buf: Buffer, at: number): boolean {
  // POSIX ustar: "ustar\0" then version "00". GNU's own format writes "ustar  \0" and has no prefix field.
  return buf[at + 257] === 0x75 && buf[at + 262] === 0 && buf[at + 263] === 0x30;
}

function readString(buf: Buffer, at: number, width: number): string {
  let end = at;
  const limit = at + width;
  while (end < limit && buf[end] !== 0) end++;
  return end === at ? '' : buf.toString('utf8', at, end);
}

function cString(data: Buffer): string {
  const nul = data.indexOf(0);
  return data.toString('utf8', 0, nul < 0 ? data.length : nul);
}

function readOctal(buf: Buffer, at: number, width: number): number {
  let i = at;
  const end = at + width;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x30)) i++;
  let n = 0;
  for (; i < end; i++) {
    const c = buf[i] ?? 0;
    if (c < 0x30 || c > 0x37) break;
    n = n * 8 + (c - 0x30);
  }
  return n;
}

/** The size field: octal, or GNU's base-256 for 8 GiB and more (high bit of the first byte set). */
function readSize(buf: Buffer, at: number): number {
  if (((buf[at] ?? 0) & 0x80) === 0) return readOctal(buf, at, 12);
  let n = 0;
  for (let i = at + 1; i < at + 12; i++) n = n * 256 + (buf[i] ?? 0);
  return n;
}

/** pax extended header records: "<length> <key>=<value>\n". */
function* paxRecords(data: Buffer): Generator<[string, string]> {
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    if (space < 0) return;
    const len = Number(data.toString('latin1', off, space));
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length) throw new TarFormatError('invalid pax header record');
    const record = data.toString('utf8', space + 1, off + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) yield [record.slice(0, eq), record.slice(eq + 1)];
    off += len;
  }
}
