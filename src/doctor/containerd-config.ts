import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { fail, ok, warn, type CheckResult } from './check.js';
import {
  CRI_IMAGES_URI,
  CRI_V1_ID,
  CRI_V2_URI,
  asTable,
  mergeRegistry,
  rawVersion,
  type ContainerdConfigFile,
  type EffectiveRegistry,
  type ParsedConfigFile,
} from './containerd-merge.js';

export type { ContainerdConfigFile } from './containerd-merge.js';

const ID = 'containerd.config';
const RESTART = 'then restart containerd: systemctl restart containerd';

/** containerd's version as far as doctor could learn it. */
export interface ContainerdVersion {
  readonly major: number;
  readonly minor: number;
  /** How it was decided: `containerd --version` output, or the config's `version = 3`. */
  readonly from: 'binary' | 'config';
}

/** Where each config layout keeps the CRI registry table. */
const layouts = [
  { version: 3, table: CRI_IMAGES_URI },
  { version: 2, table: CRI_V2_URI },
  { version: 1, table: CRI_V1_ID },
] as const;

// containerd 2.x's CRI images plugin default (`containerd config default` prints it): it
// applies whenever the effective registry table leaves config_path unset, also to a
// version 1/2 config migrated at start (containerd#12612 shows a migrated v2 config
// getting it), and, since containerd#12617 (2.2 backport), not when `mirrors` are set.
const v2xDefaultConfigPath = '/etc/containerd/certs.d:/etc/docker/certs.d';

interface Effective extends EffectiveRegistry {
  readonly rootVersion: number;
  readonly file: string;
  readonly v2x: boolean;
  readonly version: ContainerdVersion | undefined;
  /** config_path as containerd uses it, defaults applied ('' when none). */
  readonly configured: string;
}

/**
 * Checks that containerd reads the certs dir node-ca writes: `config_path`,
 * taken from the config as containerd assembles it (main file plus `imports`
 * drop-ins, containerd-merge.ts), must name it (else certs.d is ignored, the
 * most common cause of "x509: certificate signed by unknown authority"), must
 * not be a path list on containerd >= 2.1 (transfer-service pulls treat the
 * list as one directory, containerd#12808/#12415), and must not be mixed with
 * the deprecated tables containerd refuses next to it.
 */
export function checkContainerdConfig(input: {
  file: string;
  text: string | undefined;
  certsDir: string;
  version: ContainerdVersion | undefined;
  /** The imported files in containerd's load order (after the main file). */
  imports?: readonly ContainerdConfigFile[];
}): CheckResult[] {
  const { file, certsDir, version } = input;
  if (input.text === undefined && !isV2xBinary(version))
    return [
      fail(
        ID,
        file,
        'containerd config not found, so certs.d is not configured',
        `create ${file} with the CRI registry config_path = "${certsDir}", ${RESTART}`,
      ),
    ];
  const parsed = parseAll([{ path: file, text: input.text }, ...(input.imports ?? [])]);
  if (!Array.isArray(parsed)) return [parsed];
  const e = effective(file, parsed, version);
  return [...legacyRows(e, certsDir), checkConfigPath(e, certsDir)];
}

/**
 * Whether containerd 2.x rules apply: the binary says so; with no binary
 * answer, a version 3 config or one using the 2.x-only images plugin table.
 */
export function isContainerd2(
  v: ContainerdVersion | undefined,
  mainDoc: Record<string, unknown>,
): boolean {
  if (v !== undefined) return v.major >= 2;
  return rawVersion(mainDoc) >= 3 || CRI_IMAGES_URI in asTable(mainDoc.plugins);
}

function isV2xBinary(v: ContainerdVersion | undefined): boolean {
  return v !== undefined && v.major >= 2;
}

function parseAll(files: readonly ContainerdConfigFile[]): ParsedConfigFile[] | CheckResult {
  const out: ParsedConfigFile[] = [];
  for (const [i, f] of files.entries()) {
    if (f.text === undefined) {
      // Only the main file may be absent (containerd then runs on its defaults).
      if (i === 0) continue;
      return fail(
        ID,
        f.path,
        'imported config file does not exist: containerd fails to start',
        `create it or remove it from imports, ${RESTART}`,
      );
    }
    try {
      out.push({ path: f.path, doc: parseToml(f.text) });
    } catch (err) {
      const what =
        i === 0
          ? 'not valid TOML'
          : 'imported config file is not valid TOML (containerd fails to start)';
      return fail(ID, f.path, `${what}: ${firstLine(err)}`, `fix the syntax, ${RESTART}`);
    }
  }
  return out;
}

function effective(
  file: string,
  files: readonly ParsedConfigFile[],
  version: ContainerdVersion | undefined,
): Effective {
  const main = files[0]?.path === file ? files[0].doc : undefined;
  const v2x = isContainerd2(version, main ?? {});
  const merged = mergeRegistry(files, v2x);
  const useDefault = v2x && merged.configPath === undefined && merged.mirrors.length === 0;
  return {
    ...merged,
    // No main file: containerd 2.x runs on its defaults, whose layout is version 3.
    rootVersion: main === undefined ? 3 : Math.max(rawVersion(main), 1),
    file,
    v2x,
    version,
    configured: merged.configPath ?? (useDefault ? v2xDefaultConfigPath : ''),
  };
}

/** ValidatePluginConfig (1.x) / ValidateImageConfig (2.x) of the CRI plugin, and the deprecated auth table. */
function legacyRows(e: Effective, certsDir: string): CheckResult[] {
  const rows: CheckResult[] = [];
  const withPath = e.configured !== '';
  if (withPath && e.mirrors.length > 0)
    rows.push(
      refused(
        e,
        `mirrors (${e.mirrors.join(', ')})`,
        'mirrors',
        `move each mirror into ${certsDir}/<host>/hosts.toml ([host."https://<mirror>"] entries), delete the mirrors tables`,
      ),
    );
  if (withPath && e.tlsHosts.length > 0) rows.push(tlsRow(e, certsDir));
  if (e.authHosts.length > 0)
    rows.push(
      warn(
        ID,
        e.file,
        `configs."${e.authHosts.join('", "')}".auth: registry credentials in the containerd config are deprecated (containerd still uses them, also with config_path)`,
        'give the credentials as imagePullSecrets of the pods or their ServiceAccount (the kubelet passes them to containerd as the CRI auth config), then delete the configs.<host>.auth tables; hosts.toml has no credentials field',
      ),
    );
  return rows;
}

function refused(e: Effective, what: string, key: string, move: string): CheckResult {
  return fail(
    ID,
    e.file,
    `${what} set together with config_path: containerd refuses to load its CRI plugin ("\`${key}\` cannot be set when \`config_path\` is provided"), so the kubelet has no image service on this node`,
    `${move}, ${RESTART}`,
  );
}

function tlsRow(e: Effective, certsDir: string): CheckResult {
  const hosts = `configs."${e.tlsHosts.join('", "')}".tls`;
  const move = `put those TLS settings in ${certsDir}/<host>/hosts.toml (ca, client, skip_verify), delete the configs.<host>.tls tables`;
  // containerd 1.x ValidatePluginConfig refuses `configs.tls` next to config_path; 2.x
  // ValidateImageConfig only refuses `mirrors` and reports `configs` as deprecated.
  if (!e.v2x) return refused(e, hosts, 'configs.tls', move);
  return warn(
    ID,
    e.file,
    `${hosts} is deprecated and not what containerd 2.x uses for TLS once config_path is set (hosts.toml is)`,
    `${move}, ${RESTART}`,
  );
}

function checkConfigPath(e: Effective, certsDir: string): CheckResult {
  const where = `[plugins."${layoutTable(e.rootVersion)}".registry]`;
  const target = e.configPathFrom ?? e.file;
  const set = (alone = '') =>
    `set config_path = "${certsDir}"${alone} in ${where} of ${target}, ${RESTART}`;
  const shown = describeValue(e);
  if (e.configured === '')
    return fail(
      ID,
      target,
      `config_path is ${shown}: containerd ignores ${certsDir}${replacedNote(e)}`,
      set(),
    );
  const dirs = e.configured.split(':').filter((d) => d !== '');
  if (!dirs.some((d) => path.resolve(d) === path.resolve(certsDir)))
    return fail(ID, target, `config_path is ${shown}, which does not cover ${certsDir}`, set());
  if (dirs.length > 1 && isAtLeast21(e.version, e.rootVersion))
    return warn(
      ID,
      target,
      `config_path is ${shown}, a list of several directories; ${describeVersion(e.version, e.rootVersion)} ignores hosts.toml for CRI transfer-service pulls when config_path lists several directories (containerd#12808)`,
      set(' alone (not a list)'),
    );
  return ok(
    ID,
    target,
    `config_path ${shown} covers ${certsDir} (config version ${e.rootVersion}, ${where}; a change needs a containerd restart)`,
  );
}

function describeValue(e: Effective): string {
  if (e.configPath !== undefined)
    return `"${e.configPath}"${e.configPathFrom !== e.file ? ` (set in drop-in ${String(e.configPathFrom)})` : ''}`;
  if (e.configured !== '') return `not set (containerd 2.x default "${e.configured}")`;
  if (e.v2x && e.mirrors.length > 0)
    return 'not set, and with `mirrors` set containerd 2.x does not apply its default (2.2.0 refused to load the CRI plugin instead, containerd#12612)';
  return 'not set';
}

function replacedNote(e: Effective): string {
  if (e.replaced === undefined) return '';
  return `; ${e.replaced.by} replaces the whole CRI plugin table of ${e.replaced.lost}, config_path included (containerd 1.x merges imported plugin tables whole)`;
}

/** Version from the binary when known; else a `version = 3` config means containerd 2.x, assumed >= 2.1. */
function isAtLeast21(v: ContainerdVersion | undefined, configVersion: number): boolean {
  if (v !== undefined) return v.major > 2 || (v.major === 2 && v.minor >= 1);
  return configVersion === 3;
}

function describeVersion(v: ContainerdVersion | undefined, configVersion: number): string {
  if (v !== undefined)
    return `containerd ${v.major}.${v.minor} (from ${v.from === 'binary' ? 'containerd --version' : 'the config'})`;
  return `containerd 2.x (config version ${configVersion}; containerd --version unavailable)`;
}

function layoutTable(version: number): string {
  return layouts.find((l) => l.version === version)?.table ?? layouts[1].table;
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

/** Parses `containerd --version`: `containerd github.com/containerd/containerd/v2 v2.1.4 <commit>`. */
export function parseContainerdVersion(output: string): ContainerdVersion | undefined {
  const m = /\bv?(\d+)\.(\d+)\.\d+/.exec(output.replace(/^containerd\s+\S+\s+/, ''));
  if (m === null) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), from: 'binary' };
}
