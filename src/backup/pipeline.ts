import { lstat, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, errorMessage, unlessMissing } from '../lib/errors.js';
import { fsyncDir } from '../lib/fs-atomic.js';
import { createArchiveSink, type ArchiveMember } from './archive-reader.js';
import { BackupFailure, type BackupVerification } from './job.js';
import { ManifestFile, sha256sumLine } from './manifest.js';
import { parseChangedMembers } from './tar-messages.js';
import { runTar, type TarRunResult } from './tar-runner.js';
import { ArchiveCheck, relativeOf, verifyBackup } from './verify.js';
import { Trail } from './trail.js';
import { memberPrefix, walkChanges, type SourceWalk, type WalkGate } from './walk.js';

export interface PipelineInput {
  readonly sourceDir: string;
  readonly archivePath: string;
  readonly before: SourceWalk;
  readonly allowChanges: boolean;
  readonly signal: AbortSignal;
  readonly onProgress: (p: { bytesDone: number; filesDone: number }) => void;
  /** Called when tar is done and the second walk goes on alone; awaited before the archive is published. */
  readonly onVerifying: () => Promise<void>;
  /** Called once tar is started. */
  readonly onTarStarted?: () => void;
}

export interface PipelineResult {
  readonly archive: { bytes: number; sha256: string };
  readonly verification: BackupVerification;
}

/** The files a job writes beside the archive. */
export function jobPaths(archivePath: string) {
  return {
    partial: `${archivePath}.partial`,
    manifestPartial: `${archivePath}.manifest.partial`,
    sha256Partial: `${archivePath}.sha256.partial`,
    sha256: `${archivePath}.sha256`,
    manifest: `${archivePath}.manifest`,
  };
}

/** Removes a job's partial files (failure, cancel, or a restart after a crash). */
export async function removePartials(archivePath: string): Promise<void> {
  const p = jobPaths(archivePath);
  for (const f of [p.partial, p.manifestPartial, p.sha256Partial])
    await unlink(f).catch((err: unknown) => {
      if (errnoCode(err) !== 'ENOENT') throw err;
    });
}

/**
 * One backup: tar streamed to `<name>.partial` and parsed on the fly, a
 * second walk, the verdict, and only then the rename over the old archive
 * and the sidecars. Throws BackupFailure; partial files are the caller's to remove.
 */
export async function runBackupPipeline(input: PipelineInput): Promise<PipelineResult> {
  const prefix = memberPrefix(input.sourceDir);
  const check = new ArchiveCheck(input.before, prefix);
  // The second walk follows tar through the source (see walkChanges).
  const trail = new Trail(() => check.passed);
  const after = walkAfter(input.sourceDir, input.before, trail.gate);
  // Awaited below; if the stream fails first, the walk's own rejection must not go unhandled.
  after.catch(() => undefined);
  let tar: TarRunResult;
  try {
    tar = await streamArchive(input, check, trail);
  } catch (err) {
    trail.abort(new Error('the backup failed before the second walk ended'));
    throw err;
  }
  trail.end();
  input.onProgress({ bytesDone: tar.bytes, filesDone: check.files });
  // What is left of the second walk runs while the archive's last pages go to disk
  // (and the job's Verifying phase is saved: a reader of the records knows a rename may come).
  const [changedByWalk] = await Promise.all([after, tar.durable, input.onVerifying()]);
  // tar's own "file changed as we read it", and files created since the first walk, are changes too.
  const changed = [...changedByWalk, ...parseChangedMembers(tar.stderr).map((n) => relativeOf(prefix, n) ?? n), ...check.added];
  const outcome = verifyBackup({ before: input.before, check, archiveBytes: tar.bytes, changed, allowChanges: input.allowChanges });
  const archive = { bytes: tar.bytes, sha256: tar.sha256 };
  if (outcome.failure !== undefined)
    throw new BackupFailure(outcome.failure.code, outcome.failure.message, { verification: outcome.verification, archive });
  await publish(input.archivePath, tar.sha256).catch((err: unknown) => {
    throw publishFailure(err, { verification: outcome.verification, archive });
  });
  return { archive, verification: outcome.verification };
}

/**
 * tar's archive into `<name>.partial`, parsed as it is written: every member
 * checked against the first walk (which moves the second walk on) and every
 * file's line written to `<name>.manifest.partial`.
 */
async function streamArchive(input: PipelineInput, check: ArchiveCheck, trail: Trail): Promise<TarRunResult> {
  const paths = jobPaths(input.archivePath);
  const manifest = new ManifestFile(paths.manifestPartial);
  const onMember = (m: ArchiveMember): Promise<unknown> | undefined => {
    check.observe(m);
    trail.poke();
    return m.sha256 === undefined ? undefined : manifest.add(m.sha256, m.name);
  };
  const tar = runTar({
    sourceDir: input.sourceDir,
    partialPath: paths.partial,
    reader: createArchiveSink(onMember, input.before.linkTargets),
    signal: input.signal,
    ...(input.onTarStarted === undefined ? {} : { onStarted: input.onTarStarted }),
    // Progress per read of the archive (up to 1 MiB), not per member.
    onBytes: (n) => {
      input.onProgress({ bytesDone: n, filesDone: check.files });
    },
  });
  const closed = tar.then(
    () => manifest.close(),
    // tar's failure is the one reported; the manifest is only closed.
    () => manifest.close().catch(() => undefined),
  );
  const result = await tar;
  await closed.catch((err: unknown) => {
    throw manifestFailure(err);
  });
  return result;
}

function manifestFailure(err: unknown): BackupFailure {
  if (errnoCode(err) === 'ENOSPC') return new BackupFailure('NO_SPACE', 'the backup filesystem ran out of space while writing the manifest', { cause: err });
  return new BackupFailure('INTERNAL', `the manifest could not be written: ${errorMessage(err)}`, { cause: err });
}

/** Changed paths from the second walk; the whole source when it vanished. */
async function walkAfter(sourceDir: string, before: SourceWalk, gate: WalkGate): Promise<string[]> {
  try {
    return await walkChanges(sourceDir, before, gate);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [''];
    throw err;
  }
}

/**
 * The verified archive replaces the old one by rename, and that rename is the
 * commit: whatever can fail (a full disk, EIO, a directory in a sidecar's place)
 * happens before it, so a failure or a kill leaves the old archive and its
 * sidecars as they were. After it come only renames within the directory.
 */
async function publish(archivePath: string, sha256: string): Promise<void> {
  const p = jobPaths(archivePath);
  await stageSidecars(archivePath, sha256).catch((err: unknown) => {
    throw new Error(`${errorMessage(err)} (the previous archive and its sidecars are kept)`, { cause: err });
  });
  await rename(p.partial, archivePath);
  try {
    await rename(p.sha256Partial, p.sha256);
    await rename(p.manifestPartial, p.manifest);
  } catch (err) {
    // The old sidecars no longer describe the archive: none is better than a wrong one.
    await Promise.all([p.sha256, p.manifest].map((f) => unlink(f).catch(() => undefined)));
    throw new Error(`the archive was replaced, but not its sidecars (removed): ${errorMessage(err)}`, { cause: err });
  }
  await fsyncDir(path.dirname(archivePath));
}

/** The sidecars durable under their `.partial` names, and nothing in the way of their renames. */
async function stageSidecars(archivePath: string, sha256: string): Promise<void> {
  const p = jobPaths(archivePath);
  // The manifest partial is durable already (ManifestFile closes it with fsync).
  await writeDurable(p.sha256Partial, sha256sumLine(sha256, path.basename(archivePath)));
  for (const target of [p.sha256, p.manifest]) await checkReplaceable(target);
}

/** Written and fsynced under its final name's `.partial`, for a rename later. */
async function writeDurable(file: string, data: string): Promise<void> {
  const handle = await open(file, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A file can be renamed over `target` (absent, or not a directory); rename(2) would fail with EISDIR. */
async function checkReplaceable(target: string): Promise<void> {
  const st = await unlessMissing(lstat(target));
  if (st?.isDirectory() === true) throw Object.assign(new Error(`${target} is a directory`), { code: 'EISDIR' });
}

function publishFailure(err: unknown, measured: { verification: BackupVerification; archive: PipelineResult['archive'] }): BackupFailure {
  const errno = errnoCode(err instanceof Error && err.cause !== undefined ? err.cause : err);
  const code = errno === 'ENOSPC' ? 'NO_SPACE' : 'INTERNAL';
  return new BackupFailure(code, `publishing the verified archive failed: ${errorMessage(err)}`, { cause: err, ...measured });
}
