import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../src/kube/client.js';
import { kubeconfigBearerToken, redactBearer } from '../../../src/kube/discovery.js';

/** A KubeClient whose kubeconfig applies `apply` to the request options. */
function kubeWith(apply: (opts: { headers?: Record<string, unknown> }) => Promise<void>) {
  return { kubeConfig: { applyToHTTPSOptions: apply } } as unknown as KubeClient;
}

describe('the kubeconfig bearer token', () => {
  it('is trimmed (a token file with a trailing newline)', async () => {
    const kube = kubeWith(async (o) => {
      o.headers = { Authorization: 'Bearer secret-token\n' };
    });
    expect(await kubeconfigBearerToken(kube)).toBe('secret-token');
  });

  it('is undefined for a user without a bearer token', async () => {
    expect(await kubeconfigBearerToken(kubeWith(async () => undefined))).toBeUndefined();
  });

  it('never reaches an error message', async () => {
    const kube = kubeWith(() =>
      Promise.reject(new Error('Bearer secret-token\n is not a legal HTTP header value')),
    );
    const err = await kubeconfigBearerToken(kube).catch((e: unknown) => e as Error);
    expect(String(err)).not.toContain('secret-token');
    expect(redactBearer('x Bearer abc.def y')).toBe('x Bearer <redacted> y');
  });
});
