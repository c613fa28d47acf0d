import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode } from '../lib/errors.js';
import { fsyncDir, tempPrefix, writeFileAtomic } from '../lib/fs-atomic.js';
import { CA_FILE, HOSTS_TOML, MARKER_FILE } from './render.js';
import { ownershipProblem, type ObservedEntry, type ReconcileAction } from './plan.js';

const managedFiles = [CA_FILE, HOSTS_TOML, MARKER_FILE] as const;
const stagingPrefix = '.node-ca-staging.';

/**
 * Reads a certs dir as the planner needs it: every entry, and for
 * directories the contents of the files the agent manages. A missing certs
 * dir reads as empty (it is created on the first write).
 */
export async function readCertsDir(dir: string): Promise<ObservedEntry[]> {
  let names: import('node:fs').Dirent[];
  try {
    names = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const entries = names.filter((d) => !d.name.startsWith(stagingPrefix));
  return Promise.all(
    entries.map(async (d) => ({
      name: d.name,
      isDirectory: d.isDirectory(),
      files: d.isDirectory() ? await readManaged(path.join(dir, d.name)) : {},
    })),
  );
}

async function readManaged(hostDir: string): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const name of managedFiles) out[name] = await readIfExists(path.join(hostDir, name));
  return out;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'EISDIR') return undefined;
    throw err;
  }
}

/**
 * What happened to one action: `error` set when it could not be done,
 * `conflict` when a removal stopped short of someone else's files.
 */
export interface ActionOutcome {
  readonly action: ReconcileAction;
  readonly paths: readonly string[];
  readonly error?: string;
  readonly conflict?: string;
}

/** Carries out a plan in one certs dir; one failed action never stops the others. */
export async function applyActions(dir: string, actions: readonly ReconcileAction[]): Promise<ActionOutcome[]> {
  const outcomes: ActionOutcome[] = [];
  for (const action of actions) outcomes.push(await applyOne(dir, action));
  return outcomes;
}

async function applyOne(dir: string, action: ReconcileAction): Promise<ActionOutcome> {
  const hostDir = path.join(dir, action.host);
  try {
    switch (action.type) {
      case 'create':
        await createHostDir(dir, action.host, action.files);
        return { action, paths: action.files.map((f) => path.join(hostDir, f.name)) };
      case 'update':
        for (const f of action.files) await writeFileAtomic(path.join(hostDir, f.name), f.content);
        return { action, paths: action.files.map((f) => path.join(hostDir, f.name)) };
      case 'remove':
        return { action, paths: [hostDir], ...(await removeOwnedDir(hostDir, action.written)) };
      case 'conflict':
        return { action, paths: [] };
    }
  } catch (err) {
    return { action, paths: [], error: `${action.type} ${hostDir}: ${String(err)}` };
  }
}

/**
 * A new host directory appears complete: its files (marker included) are
 * written into a staging directory that is then renamed into place, so a
 * crash never leaves a directory without its marker (which would look like
 * an administrator's and be left alone forever).
 */
async function createHostDir(dir: string, host: string, files: readonly { name: string; content: string }[]) {
  await mkdir(dir, { recursive: true });
  const staging = path.join(dir, `${stagingPrefix}${host}.${randomBytes(4).toString('hex')}`);
  await mkdir(staging, { mode: 0o755 });
  try {
    for (const f of files) await writeFileAtomic(path.join(staging, f.name), f.content);
    await rename(staging, path.join(dir, host));
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * Removes what the agent wrote (`files`: ca.crt, and hosts.toml in a
 * containerd dir), then the marker and the directory, so a crash half-way
 * leaves the directory still marked and the next pass finishes the job.
 * Files the agent did not write keep the directory and its marker: it stays
 * node-ca's, the kept directory is reported on every pass (not once), and a
 * key that comes back is written there again. Also used by `node-ca cleanup`.
 */
export async function removeOwnedDir(hostDir: string, files: readonly string[]): Promise<{ conflict?: string }> {
  await removeTempFiles(hostDir);
  for (const name of files) await unlink(path.join(hostDir, name)).catch(ignoreEnoent);
  const others = (await readdir(hostDir)).filter((n) => n !== MARKER_FILE);
  if (others.length > 0) return { conflict: keptMessage(others) };
  const marker = path.join(hostDir, MARKER_FILE);
  const markerText = await readIfExists(marker);
  await unlink(marker).catch(ignoreEnoent);
  try {
    await rmdir(hostDir);
  } catch (err) {
    if (errnoCode(err) !== 'ENOTEMPTY' || markerText === undefined) throw err;
    // Someone wrote a file in between: the directory stays, and stays ours.
    await writeFileAtomic(marker, markerText);
    return { conflict: keptMessage(await readdir(hostDir)) };
  }
  await fsyncDir(path.dirname(hostDir));
  return {};
}

function keptMessage(others: readonly string[]): string {
  const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? ', ...' : '');
  return `its key left the source, but the directory holds files node-ca did not write (${shown}); node-ca removed its own files and keeps the directory until they are gone`;
}

/**
 * Removes what a killed agent left behind: staging directories, and temp
 * files inside the directories it owns (never inside anyone else's).
 */
export async function removeLeftovers(dir: string): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    ignoreEnoent(err);
    return;
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.name.startsWith(stagingPrefix)) await rm(full, { recursive: true, force: true });
    else if (e.isDirectory() && ownershipProblem(e.name, await readIfExists(path.join(full, MARKER_FILE))) === undefined)
      await removeTempFiles(full);
  }
}

async function removeTempFiles(hostDir: string): Promise<void> {
  const names = await readdir(hostDir);
  for (const name of names.filter((n) => n.startsWith(tempPrefix)))
    await unlink(path.join(hostDir, name)).catch(ignoreEnoent);
}

function ignoreEnoent(err: unknown): void {
  if (errnoCode(err) !== 'ENOENT') throw err;
}
