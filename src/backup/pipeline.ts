import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../lib/errors.js';
import { fsyncDir, writeFileAtomic } from '../lib/fs-atomic.js';
import { createArchiveSink, type ArchiveMember } from './archive-reader.js';
import { BackupFailure, type BackupVerification } from './job.js';
import { sha256sumLine } from './manifest.js';
import { parseChangedMembers } from './tar-messages.js';
import { runTar } from './tar-runner.js';
import { ArchiveCheck, relativeOf, verifyBackup } from './verify.js';
import { memberPrefix, walkChanges, type SourceWalk } from './walk.js';

export interface PipelineInput {
  readonly sourceDir: string;
  readonly archivePath: string;
  readonly before: SourceWalk;
  readonly allowChanges: boolean;
  readonly signal: AbortSignal;
  readonly onProgress: (p: { bytesDone: number; filesDone: number }) => void;
  /** Called when tar is done and the second walk starts. */
  readonly onVerifying: () => void;
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
    sha256: `${archivePath}.sha256`,
    manifest: `${archivePath}.manifest`,
  };
}

/** Removes a job's partial files (failure, cancel, or a restart after a crash). */
export async function removePartials(archivePath: string): Promise<void> {
  const p = jobPaths(archivePath);
  for (const f of [p.partial, p.manifestPartial])
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
  const paths = jobPaths(input.archivePath);
  const prefix = memberPrefix(input.sourceDir);
  const check = new ArchiveCheck(input.before, prefix);
  const manifest = createWriteStream(paths.manifestPartial, { flush: true });
  manifest.on('error', () => undefined);
  // Manifest lines go out in 64 KiB writes, not one small write per member.
  let lines = '';
  let bytesDone = 0;
  const onMember = (m: ArchiveMember): Promise<unknown> | undefined => {
    check.observe(m);
    input.onProgress({ bytesDone, filesDone: check.files });
    if (m.sha256 === undefined) return undefined;
    lines += sha256sumLine(m.sha256, m.name);
    if (lines.length < 1 << 16) return undefined;
    const full = manifest.write(lines);
    lines = '';
    return full ? undefined : once(manifest, 'drain');
  };
  const tar = await runTar({
    sourceDir: input.sourceDir,
    partialPath: paths.partial,
    reader: createArchiveSink(onMember, input.before.linkTargets),
    signal: input.signal,
    onBytes: (n) => {
      bytesDone = n;
      input.onProgress({ bytesDone, filesDone: check.files });
    },
  }).finally(() => manifest.end(lines));
  await once(manifest, 'close');
  input.onProgress({ bytesDone: tar.bytes, filesDone: check.files });
  input.onVerifying();
  const changedByTar = parseChangedMembers(tar.stderr).map((n) => relativeOf(prefix, n) ?? n);
  // The second walk runs while the archive's last pages go to disk.
  const [changedByWalk] = await Promise.all([walkAfter(input.sourceDir, input.before), tar.durable]);
  const changed = [...changedByWalk, ...changedByTar];
  const outcome = verifyBackup({ before: input.before, check, archiveBytes: tar.bytes, changed, allowChanges: input.allowChanges });
  const archive = { bytes: tar.bytes, sha256: tar.sha256 };
  if (outcome.failure !== undefined)
    throw new BackupFailure(outcome.failure.code, outcome.failure.message, { verification: outcome.verification, archive });
  await publish(input.archivePath, tar.sha256);
  return { archive, verification: outcome.verification };
}

/** Changed paths from the second walk; the whole source when it vanished. */
async function walkAfter(sourceDir: string, before: SourceWalk): Promise<string[]> {
  try {
    return await walkChanges(sourceDir, before);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [''];
    throw err;
  }
}

/** The verified archive replaces the old one by rename; then its sidecars. */
async function publish(archivePath: string, sha256: string): Promise<void> {
  const p = jobPaths(archivePath);
  const dir = path.dirname(archivePath);
  await rename(p.partial, archivePath);
  await writeFileAtomic(p.sha256, sha256sumLine(sha256, path.basename(archivePath)));
  await rename(p.manifestPartial, p.manifest);
  await fsyncDir(dir);
}
