import path from 'node:path';

/**
 * containerd's config as containerd itself assembles it from the main file
 * and its `imports` drop-ins, reduced to what doctor needs: the CRI registry
 * table containerd ends up using. Pure; the files are read by
 * `containerd-imports.ts`.
 *
 * What containerd does (sources read for this, containerd/containerd):
 * - Load order (both 1.x `services/server/config/config.go` and 2.x
 *   `cmd/containerd/server/config/config.go`, `LoadConfig`): the main file,
 *   then a queue of imports, each file's own `imports` appended to the queue,
 *   a path loaded once. A literal import that does not exist, or a file that
 *   is not TOML, makes `LoadConfig` fail: containerd does not start.
 * - `resolveImports`: only an entry containing `*` is a glob (Go
 *   `filepath.Glob`, lexically sorted matches). 2.x first makes a relative
 *   entry absolute against the importing file's directory, then globs
 *   (containerd#9746). 1.6/1.7 join only literal entries; a relative glob is
 *   matched against containerd's working directory (`/` under systemd); the
 *   1.6/1.7 backports (#9834, #9835) were not merged.
 * - 1.x `mergeConfig`: `to.Plugins[k] = v` for every plugin of the later
 *   file, so an imported file's plugin table replaces the earlier one whole
 *   (containerd#5837). `Config.Decode` keys plugins by ID (`cri`) in a
 *   version 1 (or unversioned) config and by URI otherwise; the merged
 *   `version` is the last non-zero one (mergo WithOverride).
 * - 2.x `mergeConfig`: plugin tables are deep-merged key by key
 *   (mergo WithOverride, containerd#9982, in 2.0). Each file below version 3
 *   is migrated: version 1 dotless plugin names get their URI (`v1Migrate`),
 *   and the CRI images plugin's `configMigration`
 *   (`plugins/cri/images/plugin.go`) moves `registry` from
 *   `io.containerd.grpc.v1.cri` to `io.containerd.cri.v1.images` (also when
 *   the `containerd` sub-table is absent since #10121).
 */

/** One file of the config: the main file first, then the imports in load order. */
export interface ContainerdConfigFile {
  readonly path: string;
  /** Undefined when the file does not exist. */
  readonly text: string | undefined;
}

export interface ParsedConfigFile {
  readonly path: string;
  readonly doc: Record<string, unknown>;
}

/** The CRI registry table as containerd uses it after loading every file. */
export interface EffectiveRegistry {
  readonly configPath: string | undefined;
  /** The file whose `config_path` containerd uses. */
  readonly configPathFrom: string | undefined;
  /** Hosts with a `mirrors` entry. */
  readonly mirrors: readonly string[];
  /** Hosts with a `configs."<host>".tls` table. */
  readonly tlsHosts: readonly string[];
  /** Hosts with a `configs."<host>".auth` table. */
  readonly authHosts: readonly string[];
  /** containerd 1.x: a later file's CRI table replaced one that set config_path. */
  readonly replaced?: { readonly by: string; readonly lost: string };
}

export const CRI_V1_ID = 'cri';
export const CRI_V2_URI = 'io.containerd.grpc.v1.cri';
export const CRI_IMAGES_URI = 'io.containerd.cri.v1.images';

/** The `version` as written; containerd reads a missing one as 0, i.e. version 1. */
export function rawVersion(doc: Record<string, unknown>): number {
  return typeof doc.version === 'number' ? doc.version : 0;
}

/** An import entry made concrete: a literal path, or a glob to expand. */
export interface ImportEntry {
  readonly kind: 'file' | 'glob';
  readonly path: string;
}

/** `resolveImports` of containerd 2.x (`v2x`) or 1.x, for the file `parent`. */
export function resolveImports(
  parent: string,
  doc: Record<string, unknown>,
  v2x: boolean,
): ImportEntry[] {
  const entries = Array.isArray(doc.imports)
    ? doc.imports.filter((i) => typeof i === 'string')
    : [];
  const dir = path.dirname(parent);
  return entries.map((raw) => {
    const glob = raw.includes('*');
    if (glob && !v2x) return { kind: 'glob', path: path.resolve('/', raw) };
    const clean = path.normalize(raw);
    return {
      kind: glob ? 'glob' : 'file',
      path: path.isAbsolute(clean) ? clean : path.join(dir, clean),
    };
  });
}

/** The registry containerd 1.x (`v2x` false) or 2.x uses, from the files in load order. */
export function mergeRegistry(files: readonly ParsedConfigFile[], v2x: boolean): EffectiveRegistry {
  return v2x ? merge2x(files) : merge1x(files);
}

function merge1x(files: readonly ParsedConfigFile[]): EffectiveRegistry {
  let version = 0;
  for (const f of files) if (rawVersion(f.doc) !== 0) version = rawVersion(f.doc);
  const key = version <= 1 ? CRI_V1_ID : CRI_V2_URI;
  // The last file with the plugin's table wins, whole.
  const withTable = files.filter(
    (f) => tableOrUndefined(asTable(f.doc.plugins)[key]) !== undefined,
  );
  const won = withTable.at(-1);
  const registryOf = (f: ParsedConfigFile) =>
    asTable(asTable(asTable(f.doc.plugins)[key]).registry);
  const summary = summarize(won === undefined ? {} : registryOf(won), won?.path);
  const lastSet = withTable.filter((f) => typeof registryOf(f).config_path === 'string').at(-1);
  if (won === undefined || lastSet === undefined || summary.configPath !== undefined)
    return summary;
  return { ...summary, replaced: { by: won.path, lost: lastSet.path } };
}

function merge2x(files: readonly ParsedConfigFile[]): EffectiveRegistry {
  let registry: Record<string, unknown> = {};
  let from: string | undefined;
  for (const f of files) {
    const r = migratedRegistry(f.doc);
    if (r === undefined) continue;
    registry = deepMerge(registry, r);
    if (typeof r.config_path === 'string') from = f.path;
  }
  return summarize(registry, from);
}

/** One file's CRI registry table in the version 3 layout, as 2.x migrates it. */
function migratedRegistry(doc: Record<string, unknown>): Record<string, unknown> | undefined {
  const plugins = asTable(doc.plugins);
  const images = tableOrUndefined(asTable(plugins[CRI_IMAGES_URI]).registry);
  if (rawVersion(doc) >= 3) return images;
  const cri = plugins[CRI_V2_URI] ?? (rawVersion(doc) <= 1 ? plugins[CRI_V1_ID] : undefined);
  return tableOrUndefined(asTable(cri).registry) ?? images;
}

function summarize(registry: Record<string, unknown>, from: string | undefined): EffectiveRegistry {
  const configPath = typeof registry.config_path === 'string' ? registry.config_path : undefined;
  const configs = asTable(registry.configs);
  const hostsWith = (k: string) =>
    Object.keys(configs).filter((h) => tableOrUndefined(asTable(configs[h])[k]) !== undefined);
  return {
    configPath,
    configPathFrom: configPath === undefined ? undefined : from,
    mirrors: Object.keys(asTable(registry.mirrors)),
    tlsHosts: hostsWith('tls'),
    authHosts: hostsWith('auth'),
  };
}

function deepMerge(
  to: Record<string, unknown>,
  from: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...to };
  for (const [k, v] of Object.entries(from)) {
    const a = tableOrUndefined(out[k]);
    const b = tableOrUndefined(v);
    out[k] = a !== undefined && b !== undefined ? deepMerge(a, b) : v;
  }
  return out;
}

export function asTable(v: unknown): Record<string, unknown> {
  return tableOrUndefined(v) ?? {};
}

function tableOrUndefined(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
    ? (v as Record<string, unknown>)
    : undefined;
}
