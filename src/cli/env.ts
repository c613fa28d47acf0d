import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { firstKubeconfig, type ConfigEnv } from '../config/load.js';
import { ConfigError } from '../lib/errors.js';

/** The only reader of process.env: what the configuration takes from the environment. */
export function configEnv(): ConfigEnv {
  const e = process.env;
  return {
    NODE_NAME: e.NODE_NAME,
    NODE_IP: e.NODE_IP,
    KUBECONFIG: e.KUBECONFIG,
    POD_NAME: e.POD_NAME,
    POD_NAMESPACE: e.POD_NAMESPACE,
    POD_IP: e.POD_IP,
  };
}

/** pino's levels, most to least verbose, and `silent`. */
export const logLevels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Log level for the agent (`NODE_CA_LOG_LEVEL`, default info); anything else is a ConfigError (exit 2). */
export function logLevel(): string {
  const value = process.env.NODE_CA_LOG_LEVEL;
  if (value === undefined || value === '') return 'info';
  if ((logLevels as readonly string[]).includes(value)) return value;
  const problem = `NODE_CA_LOG_LEVEL: ${JSON.stringify(value)} is not a log level; use one of ${logLevels.join(', ')}`;
  throw new ConfigError(problem, [problem]);
}

/** PATH for the runtime commands the agent runs (pull checks). */
export function commandPath(): string | undefined {
  return process.env.PATH;
}

/** What `node-ca fleet` tells a user who has none of the kubeconfigs below and is not in a pod. */
export const fleetKubeconfigHint = 'pass --kubeconfig or set KUBECONFIG (or create ~/.kube/config)';

/** The kubeconfig `node-ca fleet` uses without `--kubeconfig`: `KUBECONFIG` (first entry), else `~/.kube/config`, else in-cluster. */
export function fleetKubeconfig(): string | undefined {
  const fromEnv = firstKubeconfig(process.env.KUBECONFIG);
  if (fromEnv !== undefined) return fromEnv;
  const home = path.join(os.homedir(), '.kube', 'config');
  return existsSync(home) ? home : undefined;
}
