import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { ConfigError, errorMessage } from '../lib/errors.js';
import { isLoopbackAddress } from '../lib/net.js';
import { placementProblems } from '../backup/preflight.js';
import { validateConfigDocument, type Config } from './schema.js';

/** The environment variables the agent reads; nothing else reads process.env. */
export interface ConfigEnv {
  NODE_NAME?: string | undefined;
  NODE_IP?: string | undefined;
  /** kubectl's list (`a:b`, `:`-separated): the first non-empty entry is used, see `firstKubeconfig`. */
  KUBECONFIG?: string | undefined;
  POD_NAME?: string | undefined;
  POD_NAMESPACE?: string | undefined;
  /** The pod's IP (downward API `status.podIP`), a SAN of the self-signed certificate. */
  POD_IP?: string | undefined;
}

/** Reads, validates and freezes the configuration; all problems in one ConfigError. */
export async function loadConfig(file: string | undefined, env: ConfigEnv): Promise<Config> {
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${errorMessage(err)}`);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid YAML: ${errorMessage(err)}`);
    }
  }
  return parseConfig(raw, env, file ?? '(defaults)');
}

/** Validates an already-parsed document (YAML or JSON) against the schema. */
export function parseConfig(raw: unknown, env: ConfigEnv, origin = 'config'): Config {
  const result = validateConfigDocument(raw);
  if (result.problems !== undefined) throw invalidConfig(origin, result.problems);
  const data = result.config;
  const nodeName = data.nodeName ?? nonEmpty(env.NODE_NAME) ?? hostname();
  const config: Config = {
    ...data,
    nodeName,
    nodeIP: data.nodeIP ?? nonEmpty(env.NODE_IP),
    kubeconfig: data.kubeconfig ?? firstKubeconfig(env.KUBECONFIG),
    podIP: nonEmpty(env.POD_IP),
    ...podFromEnv(env),
  };
  const problems = [...nodeIPProblems(data.nodeIP, nonEmpty(env.NODE_IP)), ...crossChecks(config)];
  if (problems.length > 0) throw invalidConfig(origin, problems);
  return deepFreeze(config);
}

function invalidConfig(origin: string, problems: string[]): ConfigError {
  return new ConfigError(`invalid configuration in ${origin}:\n  ${problems.join('\n  ')}`, problems);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

/**
 * The file a `KUBECONFIG` value names: kubectl takes a `:`-separated list
 * and merges it; node-ca reads one file, the list's first non-empty entry
 * (the rule `node-ca fleet` follows too).
 */
export function firstKubeconfig(value: string | undefined): string | undefined {
  return value?.split(':').map((p) => p.trim()).find((p) => p !== '');
}

function podFromEnv(env: ConfigEnv): Pick<Config, 'pod'> {
  const name = nonEmpty(env.POD_NAME);
  const namespace = nonEmpty(env.POD_NAMESPACE);
  return name !== undefined && namespace !== undefined ? { pod: { name, namespace } } : {};
}

/** Rules that span keys: insecure listeners, a backup dir or state dir inside a source (by real path). */
function crossChecks(c: Config): string[] {
  return [...listenProblems(c.server), ...placementProblems(c.backup)];
}

/** A listener off loopback needs TLS and authentication; at most one problem is reported. */
function listenProblems({ listen, tls, auth }: Config['server']): string[] {
  if (listen === '') return [];
  const host = splitListen(listen)?.host;
  if (host === undefined) return [`server.listen: "${listen}" is not host:port`];
  if (isLoopback(host)) return [];
  if (tls.mode === 'disabled') return ['server.tls.mode: disabled is only allowed when server.listen is a loopback address'];
  if (auth.mode === 'none') return ['server.auth.mode: none is only allowed when server.listen is a loopback address'];
  return [];
}

/**
 * The node IP names the archive (`<nodeIP>-<source>.tar`): an address, never
 * a CIDR or anything else with a `/` in it.
 */
function nodeIPProblems(fromFile: string | undefined, fromEnv: string | undefined): string[] {
  if (fromFile !== undefined) return isIP(fromFile) === 0 ? [`nodeIP: "${fromFile}" is not an IPv4 or IPv6 address`] : [];
  if (fromEnv !== undefined && isIP(fromEnv) === 0) return [`nodeIP: NODE_IP "${fromEnv}" is not an IPv4 or IPv6 address`];
  return [];
}

/** `host:port`, `[v6]:port`; undefined when malformed. */
export function splitListen(listen: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || isLoopbackAddress(host);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
