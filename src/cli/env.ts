import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ConfigEnv } from '../config/load.js';

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

/** Log level for the agent (`NODE_CA_LOG_LEVEL`, default info). */
export function logLevel(): string {
  return process.env.NODE_CA_LOG_LEVEL ?? 'info';
}

/** PATH for the runtime commands the agent runs (pull checks). */
export function commandPath(): string | undefined {
  return process.env.PATH;
}

/** The kubeconfig `node-ca fleet` uses without `--kubeconfig`: `KUBECONFIG` (first entry), else `~/.kube/config`, else in-cluster. */
export function fleetKubeconfig(): string | undefined {
  const fromEnv = process.env.KUBECONFIG?.split(':').find((p) => p !== '');
  if (fromEnv !== undefined) return fromEnv;
  const home = path.join(os.homedir(), '.kube', 'config');
  return existsSync(home) ? home : undefined;
}
