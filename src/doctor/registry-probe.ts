import { probeRegistry } from '../pull/registry-probe.js';
import { fail, ok } from './check.js';
import type { RegistryProbeCheck } from './tls.js';

/**
 * The pull checks' registry probe as a doctor check: after a trusted
 * handshake, does the registry answer the distribution API? Any HTTP answer
 * from `/v2/` (the manifest of a name that need not exist: 2xx, 401 with a
 * challenge, 404) proves TLS, routing and the registry process are fine.
 */
export function createRegistryProbeCheck(certsDir: string, timeoutMs = 5000): RegistryProbeCheck {
  return async ({ host }) => {
    const r = await probeRegistry({ domain: host, path: 'node-ca/doctor-probe', reference: 'latest' }, { certsDir, timeoutMs });
    if (r.status !== undefined && (r.ok || r.status === 404))
      return ok('registry.probe', host, `registry answers the /v2/ API with the installed CA (HTTP ${r.status})`);
    const why = r.error === undefined ? 'no answer' : `${r.error.code}: ${r.error.message}`;
    return fail('registry.probe', host, `registry did not answer the /v2/ API: ${why}`, `curl --cacert ${certsDir}/${host}/ca.crt https://${host}/v2/`);
  };
}
