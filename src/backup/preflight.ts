import { lstat, statfs } from 'node:fs/promises';
import { errnoCode, NodeCaError } from '../lib/errors.js';

/** The source must exist and be a real directory (a symlink would be archived as just the link). */
export async function checkSource(sourceDir: string): Promise<void> {
  const st = await lstat(sourceDir).catch((err: unknown) => {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  });
  if (st === undefined) throw new NodeCaError('SOURCE_MISSING', `backup source ${sourceDir} does not exist`);
  if (!st.isDirectory()) throw new NodeCaError('SOURCE_MISSING', `backup source ${sourceDir} is not a directory`);
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
