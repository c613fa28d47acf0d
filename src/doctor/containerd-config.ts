import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { fail, ok, warn, type CheckResult } from './check.js';

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
  { version: 3, table: 'io.containerd.cri.v1.images' },
  { version: 2, table: 'io.containerd.grpc.v1.cri' },
  { version: 1, table: 'cri' },
] as const;

// containerd 2.x's built-in default when config_path is not written (see `containerd config default`).
const v3DefaultConfigPath = '/etc/containerd/certs.d:/etc/docker/certs.d';

interface RegistrySection {
  readonly version: number;
  readonly configPath: string | undefined;
  readonly legacy: readonly string[];
}

/**
 * Checks that containerd reads the certs dir node-ca writes: `config_path`
 * must name it (else certs.d is ignored, the most common cause of "x509:
 * certificate signed by unknown authority"), must not be a path list on
 * containerd >= 2.1 (transfer-service pulls treat the list as one directory,
 * containerd#12808/#12415), and must not be mixed with the deprecated
 * `mirrors`/`configs` tables (containerd then refuses or ignores one of them).
 */
export function checkContainerdConfig(input: {
  file: string;
  text: string | undefined;
  certsDir: string;
  version: ContainerdVersion | undefined;
}): CheckResult[] {
  const { file, certsDir } = input;
  const wanted = `config_path = "${certsDir}"`;
  if (input.text === undefined)
    return [
      fail(
        ID,
        file,
        'containerd config not found, so certs.d is not configured',
        `create ${file} with the CRI registry ${wanted}, ${RESTART}`,
      ),
    ];
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(input.text);
  } catch (err) {
    return [fail(ID, file, `not valid TOML: ${firstLine(err)}`, `fix the syntax, ${RESTART}`)];
  }
  const section = registrySection(doc);
  const where = `[plugins."${layoutTable(section.version)}".registry]`;
  const results: CheckResult[] = [];
  if (section.legacy.length > 0)
    results.push(
      fail(
        ID,
        file,
        `${section.legacy.join(' and ')} set together with config_path; containerd uses only one of them`,
        `move those settings into hosts.toml files under ${certsDir}, delete the ${section.legacy.join('/')} tables, ${RESTART}`,
      ),
    );
  results.push(checkConfigPath(section, { file, where }, certsDir, input.version));
  return results;
}

function checkConfigPath(
  s: RegistrySection,
  at: { file: string; where: string },
  certsDir: string,
  version: ContainerdVersion | undefined,
): CheckResult {
  const { file, where } = at;
  const wanted = `config_path = "${certsDir}" in ${where}`;
  const configured = s.configPath ?? (s.version === 3 ? v3DefaultConfigPath : '');
  const shown =
    s.configPath === undefined ? `not set (default "${configured}")` : `"${configured}"`;
  if (configured === '')
    return fail(
      ID,
      file,
      `config_path is ${shown}: containerd ignores ${certsDir}`,
      `set ${wanted}, ${RESTART}`,
    );
  const dirs = configured.split(':').filter((d) => d !== '');
  if (!dirs.some((d) => path.resolve(d) === path.resolve(certsDir)))
    return fail(
      ID,
      file,
      `config_path is ${shown}, which does not cover ${certsDir}`,
      `set ${wanted}, ${RESTART}`,
    );
  if (dirs.length > 1 && isAtLeast21(version, s.version))
    return warn(
      ID,
      file,
      `config_path is a list ${shown}; ${describeVersion(version, s.version)} ignores hosts.toml for CRI transfer-service pulls when config_path lists several directories (containerd#12808)`,
      `set ${wanted} alone, ${RESTART}`,
    );
  return ok(
    ID,
    file,
    `config_path ${shown} covers ${certsDir} (config version ${s.version}, ${where}; a change needs a containerd restart)`,
  );
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

function registrySection(doc: Record<string, unknown>): RegistrySection {
  const declared = typeof doc.version === 'number' ? doc.version : 1;
  const plugins = asTable(doc.plugins);
  const layout =
    layouts.find((l) => l.version === declared) ??
    layouts.find((l) => asTable(plugins[l.table]).registry !== undefined) ??
    layouts[1];
  const registry = asTable(asTable(plugins[layout.table]).registry);
  const configPath = typeof registry.config_path === 'string' ? registry.config_path : undefined;
  const legacy = ['mirrors', 'configs'].filter((k) => Object.keys(asTable(registry[k])).length > 0);
  return {
    version: layout.version,
    configPath,
    legacy: configPath === undefined || configPath === '' ? [] : legacy,
  };
}

function layoutTable(version: number): string {
  return layouts.find((l) => l.version === version)?.table ?? layouts[1].table;
}

function asTable(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
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
