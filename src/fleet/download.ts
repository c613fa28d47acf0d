import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createArchiveReader, type ArchiveMember } from '../backup/archive-reader.js';
import { sha256sumLine } from '../backup/manifest.js';
import { errorMessage } from '../lib/errors.js';
import { fsyncDir, writeFileAtomic } from '../lib/fs-atomic.js';
import { AgentCallError } from './agent-client.js';
import type { AgentBackupJob } from './agent-api.js';
import { NodeOperationFailed } from './fan-out.js';

/** Where one node's archive landed, and what the re-hash found. */
export interface ArchiveDownload {
  readonly dir: string;
  readonly archive: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The local file was already there with the node's bytes: not downloaded again. */
  readonly reused: boolean;
  readonly files: readonly string[];
}

/** Every member name is a possible hard-link target: a link's manifest line gets its target's hash. */
const everyName: ReadonlySet<string> = { has: () => true } as unknown as ReadonlySet<string>;

/**
 * Downloads a Succeeded job's archive into `<outDir>/<node>/`, hashing the
 * bytes as they arrive and parsing the tar on the fly, and writes the two
 * SPEC sidecars beside it in sha256sum format: `<name>.sha256` and
 * `<name>.manifest` (one line per regular file, its path as in the archive).
 * The agent's API serves only the archive, so the sidecars are computed here
 * from the bytes received, after they matched the node's `archive.sha256`.
 * An existing file with other bytes is never overwritten.
 */
export async function downloadArchive(
  open: () => Promise<Readable>,
  job: AgentBackupJob,
  where: { outDir: string; node: string },
): Promise<ArchiveDownload> {
  const expected = job.archive;
  if (expected === undefined) throw fail('DOWNLOAD_FAILED', `backup ${job.id} reports no archive`);
  const dir = path.join(where.outDir, safeSegment(where.node));
  const name = safeSegment(path.posix.basename(job.archivePath));
  const archive = path.join(dir, name);
  // The archive holds every object of the registry: the copies are the caller's alone, as
  // the node's are (0600); directories fleet makes are 0700 (an existing one keeps its mode).
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const existing = await stat(archive).catch(() => undefined);
  const got =
    existing === undefined
      ? await fetchVerified(open, archive, expected)
      : await digestExisting(archive, expected);
  await writeSidecar(`${archive}.sha256`, sha256sumLine(got.sha256, name));
  await writeSidecar(`${archive}.manifest`, got.manifest);
  return {
    dir,
    archive,
    bytes: got.bytes,
    sha256: got.sha256,
    reused: existing !== undefined,
    files: [archive, `${archive}.sha256`, `${archive}.manifest`],
  };
}

type Expected = NonNullable<AgentBackupJob['archive']>;

/** A file already there: kept when it holds the node's bytes, else the node fails (never overwritten). */
async function digestExisting(archive: string, expected: Expected): Promise<Digest> {
  // Plain hash first: the existing file may not even be a tar.
  const present = await sha256Of(archive);
  if (present !== expected.sha256)
    throw fail(
      'OUT_FILE_EXISTS',
      `refusing to overwrite ${archive}: it holds other bytes (sha256 ${short(present)}, node has ${short(expected.sha256)})`,
    );
  return digest(createReadStream(archive), undefined);
}

/** `.partial` files being written now, for a quick exit that must not leave them behind. */
const activePartials = new Set<string>();

/** Removes the `.partial` files of the downloads in progress (synchronous: for a process about to exit). */
export function removePartialDownloadsSync(): void {
  for (const file of activePartials) rmSync(file, { force: true });
  activePartials.clear();
}

/** Downloads to `<archive>.partial`, renamed into place only when size and sha256 match the node's. */
async function fetchVerified(
  open: () => Promise<Readable>,
  archive: string,
  expected: Expected,
): Promise<Digest> {
  const partial = `${archive}.partial`;
  activePartials.add(partial);
  try {
    return await fetchInto(open, partial, archive, expected);
  } finally {
    activePartials.delete(partial);
  }
}

async function fetchInto(
  open: () => Promise<Readable>,
  partial: string,
  archive: string,
  expected: Expected,
): Promise<Digest> {
  const got = await digest(await open(), createWriteStream(partial, { flush: true, mode: 0o600 })).catch(
    async (err: unknown) => {
      await rm(partial, { force: true });
      // A transport error keeps its code; a stream or tar parse error is this download's failure.
      throw err instanceof AgentCallError
        ? err
        : fail('DOWNLOAD_FAILED', `download: ${errorMessage(err)}`);
    },
  );
  if (got.sha256 !== expected.sha256 || got.bytes !== expected.bytes) {
    await rm(partial, { force: true });
    throw fail(
      'DOWNLOAD_MISMATCH',
      `downloaded ${got.bytes} bytes with sha256 ${short(got.sha256)}; the node reports ${expected.bytes} bytes, ${short(expected.sha256)}`,
    );
  }
  await rename(partial, archive);
  await fsyncDir(path.dirname(archive));
  return got;
}

interface Digest {
  sha256: string;
  bytes: number;
  manifest: string;
}

/** One pass over the bytes: sha256, count, tar parse for the manifest, and optionally a copy to `sink`. */
async function digest(source: Readable, sink: Writable | undefined): Promise<Digest> {
  const hash = createHash('sha256');
  let bytes = 0;
  const lines: string[] = [];
  const reader = createArchiveReader((m: ArchiveMember) => {
    if (m.sha256 !== undefined) lines.push(sha256sumLine(m.sha256, m.name));
  }, everyName);
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      if (reader.write(chunk)) done(null, chunk);
      else
        reader.once('drain', () => {
          done(null, chunk);
        });
    },
    flush(done) {
      reader.once('finish', () => {
        done();
      });
      reader.end();
    },
  });
  reader.on('error', (err: Error) => tee.destroy(err));
  await pipeline(
    source,
    tee,
    sink ??
      new Writable({
        write: (_c, _e, done) => {
          done();
        },
      }),
  );
  return { sha256: hash.digest('hex'), bytes, manifest: lines.join('') };
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function writeSidecar(file: string, content: string): Promise<void> {
  const old = await readFile(file, 'utf8').catch(() => undefined);
  if (old === content) return;
  if (old !== undefined)
    throw fail('OUT_FILE_EXISTS', `refusing to overwrite ${file}: it holds other content`);
  await writeFileAtomic(file, content, { mode: 0o600 });
}

function safeSegment(name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
    throw fail('DOWNLOAD_FAILED', `unsafe file name ${JSON.stringify(name)}`);
  return name;
}

export function short(sha256: string): string {
  return sha256.slice(0, 12);
}

function fail(code: string, message: string): NodeOperationFailed<undefined> {
  return new NodeOperationFailed({ code, message }, undefined);
}
