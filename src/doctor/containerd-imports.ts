import { glob } from 'node:fs/promises';
import { parse as parseToml } from 'smol-toml';
import { resolveImports, type ContainerdConfigFile, type ImportEntry } from './containerd-merge.js';

/**
 * Reads containerd's main config file and, in containerd's own load order,
 * every file its `imports` name (see `containerd-merge.ts` for the rules and
 * their sources). Stops at the first file containerd could not load (absent,
 * or not TOML): containerd stops there too, and the check reports it.
 * `v2x` decides how relative globs resolve (containerd 2.x: against the
 * importing file's directory); `isV2x` is given the main file's document.
 */
export async function readContainerdConfigFiles(
  file: string,
  read: (file: string) => Promise<string | undefined>,
  isV2x: (mainDoc: Record<string, unknown>) => boolean,
): Promise<ContainerdConfigFile[]> {
  const out: ContainerdConfigFile[] = [];
  const loaded = new Set<string>();
  const pending = [file];
  let v2x: boolean | undefined;
  for (let next = pending.shift(); next !== undefined; next = pending.shift()) {
    if (loaded.has(next)) continue;
    loaded.add(next);
    const text = await read(next);
    out.push({ path: next, text });
    const doc = text === undefined ? undefined : tryParse(text);
    if (doc === undefined) break;
    v2x ??= isV2x(doc);
    pending.push(...(await expand(resolveImports(next, doc, v2x))));
  }
  return out;
}

async function expand(entries: readonly ImportEntry[]): Promise<string[]> {
  const out: string[] = [];
  for (const e of entries) {
    if (e.kind === 'file') {
      out.push(e.path);
      continue;
    }
    const matches: string[] = [];
    for await (const m of glob(e.path)) matches.push(m);
    // Go's filepath.Glob returns the matches in lexical order.
    out.push(...matches.sort());
  }
  return out;
}

function tryParse(text: string): Record<string, unknown> | undefined {
  try {
    return parseToml(text);
  } catch {
    return undefined;
  }
}
