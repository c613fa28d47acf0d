import { parseBundle } from './bundle.js';
import { parseKey, type RegistryHost } from './keys.js';
import type { DesiredRegistry } from './plan.js';

export interface InvalidKey {
  readonly key: string;
  /** Set when the name is a valid host (its last good files are kept). */
  readonly host?: RegistryHost;
  readonly reason: string;
}

export interface DesiredState {
  readonly registries: readonly DesiredRegistry[];
  readonly invalid: readonly InvalidKey[];
}

/** Validates every key of a snapshot; one invalid key never blocks the others. Pure. */
export function planDesiredState(entries: ReadonlyMap<string, string>): DesiredState {
  const registries: DesiredRegistry[] = [];
  const invalid: InvalidKey[] = [];
  for (const [key, value] of [...entries].sort(([a], [b]) => a.localeCompare(b))) {
    const parsedKey = parseKey(key);
    if (!parsedKey.ok) {
      invalid.push({ key, reason: `key is not a registry host: ${parsedKey.reason}` });
      continue;
    }
    const parsed = parseBundle(value);
    if (!parsed.ok) invalid.push({ key, host: parsedKey.host, reason: parsed.reason });
    else registries.push({ key, host: parsedKey.host, bundle: parsed.bundle });
  }
  return { registries, invalid };
}
