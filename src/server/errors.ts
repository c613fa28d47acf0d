import type { FastifyError, FastifyInstance } from 'fastify';
import { NodeCaError, type ErrorCode } from '../lib/errors.js';

/** The SPEC error body. */
export interface ErrorBody {
  error: { code: string; message: string; [extra: string]: unknown };
}

export function errorBody(code: string, message: string, details?: Record<string, unknown>): ErrorBody {
  return { error: { code, message, ...details } };
}

const frameworkCodes: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** RFC 6750: a 401 names the scheme the caller should use. */
const bearerChallenge = 'Bearer realm="node-ca"';

export interface ErrorHandlingOptions {
  /** Methods registered for a path; a non-empty answer turns a 404 into a 405. */
  readonly allowedMethods?: (path: string) => string[];
}

/**
 * The one place that maps errors to HTTP answers. NodeCaErrors and
 * framework errors below 500 (validation, body too large, bad JSON) pass
 * through with a code; anything else is logged and answered with a generic
 * 500, because unexpected messages can carry host paths, stderr or API bodies.
 */
export function installErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions = {}): void {
  app.setErrorHandler((err: FastifyError | NodeCaError, request, reply) => {
    if (err instanceof NodeCaError) {
      if (err.status >= 500) request.log.warn({ code: err.code, err: err.cause }, err.message);
      if (err.code === 'UNAUTHENTICATED') void reply.header('www-authenticate', bearerChallenge);
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    const status = err.statusCode ?? 500;
    if (err.validation !== undefined)
      return reply.status(400).send(errorBody('BAD_REQUEST', `${err.validationContext ?? 'request'} ${err.message}`));
    if (status < 500) {
      const code = frameworkCodes[status] ?? 'BAD_REQUEST';
      return reply.status(status).send(errorBody(code, err.message));
    }
    request.log.error({ err }, 'unexpected error');
    return reply.status(500).send(errorBody('INTERNAL', 'internal error; see the agent log'));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const allow = options.allowedMethods?.(path) ?? [];
    if (allow.length > 0)
      return reply
        .status(405)
        .header('allow', allow.join(', '))
        .send(errorBody('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`));
    return reply.status(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${path}`));
  });
}
