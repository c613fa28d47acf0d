import { afterEach, describe, expect, it, vi } from 'vitest';
import { fleetKubeconfig, logLevel } from '../../../src/cli/env.js';
import { ConfigError } from '../../../src/lib/errors.js';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('logLevel', () => {
  it('defaults to info and takes any pino level', () => {
    vi.stubEnv('NODE_CA_LOG_LEVEL', undefined);
    expect(logLevel()).toBe('info');
    vi.stubEnv('NODE_CA_LOG_LEVEL', '');
    expect(logLevel()).toBe('info');
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) {
      vi.stubEnv('NODE_CA_LOG_LEVEL', level);
      expect(logLevel()).toBe(level);
    }
  });

  it('refuses anything else with a ConfigError naming the variable and the levels (exit 2)', () => {
    vi.stubEnv('NODE_CA_LOG_LEVEL', 'verbose');
    expect(() => logLevel()).toThrow(ConfigError);
    expect(() => logLevel()).toThrow(
      'NODE_CA_LOG_LEVEL: "verbose" is not a log level; use one of trace, debug, info, warn, error, fatal, silent',
    );
  });
});

describe('fleetKubeconfig', () => {
  it('takes the first non-empty KUBECONFIG entry, like the agent', () => {
    vi.stubEnv('KUBECONFIG', ':/x/kc.yaml:/y');
    expect(fleetKubeconfig()).toBe('/x/kc.yaml');
  });
});
