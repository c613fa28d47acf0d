import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { describeApiError } from '../../../src/kube/errors.js';

describe('describeApiError', () => {
  it('says what a 401 or 403 means and where to look, from a list (ApiException) or a watch (statusCode)', () => {
    expect(describeApiError(new ApiException(403, 'x', JSON.stringify({ reason: 'Forbidden' }), {}))).toBe(
      'HTTP 403 Forbidden: RBAC does not allow it for this identity (for the agent: the node-ca Role and ClusterRole of the deploy manifests)',
    );
    expect(describeApiError(Object.assign(new Error('Unauthorized'), { statusCode: 401 }))).toMatch(/^HTTP 401: the API server refused the credentials/);
    expect(describeApiError(Object.assign(new Error('Service Unavailable'), { statusCode: 503 }))).toBe('HTTP 503');
    expect(describeApiError(Object.assign(new Error('connect ECONNREFUSED 10.96.0.1:443'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED: connect ECONNREFUSED 10.96.0.1:443');
  });
});
