import { realpathSync } from 'node:fs';
import { lstat, realpath, readlink, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { BackupConfig } from '../config/schema.js';
import { NodeCaError, unlessMissing } from '../lib/errors.js';

/** The source must exist and be a real directory (a symlink would be archived as just the link). */
export async function checkSource(sourceDir: string): Promise<void> {
  const st = await unlessMissing(lstat(sourceDir));
  if (st === undefined) throw new NodeCaError('SOURCE_MISSING', `backup source ${sourceDir} does not exist`);
  if (st.isSymbolicLink())
    throw new NodeCaError('SOURCE_MISSING', `backup source ${sourceDir} is a symlink; configure the directory it points to (${await linkTarget(sourceDir)})`);
  if (!st.isDirectory()) throw new NodeCaError('SOURCE_MISSING', `backup source ${sourceDir} is not a directory`);
}

/** Where a symlink leads: its real path, or its text when it dangles. */
async function linkTarget(link: string): Promise<string> {
  return realpath(link).catch(async () => `${await readlink(link)}, which does not exist`);
}

/**
 * A `backup.dir` or `backup.stateDir` inside a source, by real path (a symlink
 * into the source counts): the archive would hold its own partial, or the job
 * records would change under every backup. One problem per key and source.
 */
export function placementProblems(backup: Pick<BackupConfig, 'sources' | 'dir' | 'stateDir'>, only?: string): string[] {
  const problems: string[] = [];
  for (const [name, src] of Object.entries(backup.sources)) {
    if (only !== undefined && name !== only) continue;
    const realSrc = realPathOfExisting(src);
    for (const key of ['dir', 'stateDir'] as const) {
      const real = realPathOfExisting(backup[key]);
      if (!isSameOrInside(real, realSrc)) continue;
      const shown = real === path.resolve(backup[key]) ? backup[key] : `${backup[key]} (${real})`;
      problems.push(`backup.${key}: ${shown} is inside backup.sources.${name} (${src}); ${placementHarm[key]}`);
    }
  }
  return problems;
}

const placementHarm = {
  dir: 'the archive would contain itself',
  stateDir: 'the job records would change during every backup of it',
} as const;

/** At each backup: the directories may have been created or re-linked since the agent started. */
export function checkPlacement(backup: Pick<BackupConfig, 'sources' | 'dir' | 'stateDir'>, source: string): void {
  const problems = placementProblems(backup, source);
  if (problems.length > 0) throw new NodeCaError('BACKUP_DIR_INSIDE_SOURCE', `the agent's configuration refuses this backup: ${problems.join('; ')}`);
}

/**
 * The real path of `p`: of its longest existing part, with the rest appended
 * (a directory not created yet). Synchronous: also used while loading the configuration.
 */
export function realPathOfExisting(p: string): string {
  const abs = path.resolve(p);
  try {
    return realpathSync.native(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(realPathOfExisting(parent), path.basename(abs));
  }
}

function isSameOrInside(dir: string, parent: string): boolean {
  return dir === parent || dir.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);
}

export interface SpaceInput {
  /** Archive bytes predicted from the walk, plus the manifest's. */
  readonly neededBytes: number;
  readonly fs: { readonly bsize: number; readonly blocks: number; readonly bavail: number };
  readonly minFreePercent: number;
}

export interface SpacePlan {
  readonly ok: boolean;
  readonly neededBytes: number;
  readonly availableBytes: number;
  /** Bytes that must stay free after the archive (minFreePercent of the filesystem). */
  readonly reserveBytes: number;
}

/** Room for the archive while keeping `minFreePercent` free (the kubelet evicts below nodefs.available 10%). */
export function planSpace(input: SpaceInput): SpacePlan {
  const availableBytes = input.fs.bavail * input.fs.bsize;
  const reserveBytes = Math.ceil((input.fs.blocks * input.fs.bsize * input.minFreePercent) / 100);
  return { ok: availableBytes - input.neededBytes >= reserveBytes, neededBytes: input.neededBytes, availableBytes, reserveBytes };
}

/** 507 before anything is written when the backup filesystem lacks room. */
export async function checkSpace(backupDir: string, neededBytes: number, minFreePercent: number): Promise<SpacePlan> {
  const plan = planSpace({ neededBytes, fs: await statfs(backupDir), minFreePercent });
  if (!plan.ok)
    throw new NodeCaError(
      'INSUFFICIENT_STORAGE',
      `${backupDir} has ${plan.availableBytes} bytes available; the archive needs ${plan.neededBytes} and ${minFreePercent}% (${plan.reserveBytes} bytes) must stay free`,
      { details: { neededBytes: plan.neededBytes, availableBytes: plan.availableBytes, reserveBytes: plan.reserveBytes } },
    );
  return plan;
}
