import { ApiException } from '@kubernetes/client-node';
import { errnoCode, errorMessage } from '../lib/errors.js';

/**
 * A short, safe description of a Kubernetes API failure for status and logs.
 * ApiException messages embed response headers and bodies; we keep the
 * status code and the Status reason only.
 */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) return `HTTP ${err.code}${statusReason(err.body)}${hint(err.code)}`;
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number') return `HTTP ${statusCode}${hint(statusCode)}`;
  const code = errnoCode(err);
  const message = errorMessage(err).split('\n')[0] ?? '';
  return code === undefined ? message : `${code}: ${message}`;
}

function statusReason(body: unknown): string {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return '';
    }
  }
  const reason = (parsed as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' && reason !== '' ? ` ${reason}` : '';
}

/** What a 401 or 403 from the API server means, and where to look. */
function hint(status: number): string {
  if (status === 401) return ': the API server refused the credentials (the ServiceAccount token, or the kubeconfig user)';
  if (status === 403) return ': RBAC does not allow it for this identity (for the agent: the node-ca Role and ClusterRole of the deploy manifests)';
  return '';
}
