import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyError, FastifyInstance, FastifyReply, FastifySchemaValidationError } from 'fastify';
import { NodeCaError, type ErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { logAnsweredRequest, pathOf, recordFailure } from './request-log.js';

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
 * through with a code; anything else is answered with a generic 500, because
 * unexpected messages can carry host paths, stderr or API bodies. A 5xx's
 * error is logged on the request's one line (request-log.ts), not a line of its own.
 */
export function installErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions = {}): void {
  app.setErrorHandler((err: FastifyError | NodeCaError, _request, reply) => {
    if (err instanceof NodeCaError) {
      if (err.status >= 500) recordFailure(reply, { level: 'warn', code: err.code, err: err.cause, reason: err.message });
      if (err.code === 'UNAUTHENTICATED') void reply.header('www-authenticate', bearerChallenge);
      return reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    }
    const status = err.statusCode ?? 500;
    if (err.validation !== undefined)
      return reply.status(400).send(errorBody('BAD_REQUEST', validationMessage(err.validationContext, err.validation[0])));
    if (status < 500) {
      const code = frameworkCodes[status] ?? 'BAD_REQUEST';
      return reply.status(status).send(errorBody(code, err.message));
    }
    recordFailure(reply, { level: 'error', err, reason: 'unexpected error' });
    return reply.status(500).send(errorBody('INTERNAL', 'internal error; see the agent log'));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = pathOf(request.url);
    const allow = options.allowedMethods?.(path) ?? [];
    if (allow.length > 0)
      return reply
        .status(405)
        .header('allow', allow.join(', '))
        .send(errorBody('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`));
    return reply.status(404).send(errorBody('NOT_FOUND', `no route ${request.method} ${path}`));
  });
}

/** What a caller calls each part of a request, and what an unknown key of it is. */
const requestParts: Record<string, { name: string; key: string }> = {
  body: { name: 'body', key: 'field' },
  querystring: { name: 'query', key: 'parameter' },
  params: { name: 'params', key: 'parameter' },
  headers: { name: 'headers', key: 'header' },
};

/**
 * The first schema violation, naming where it is and which key:
 * `body: unknown field "foo"`, `query: unknown parameter "limit"`,
 * `params/id: must match pattern "..."`. (Fastify's own message already
 * starts with the part's name and leaves out the unknown key.)
 */
export function validationMessage(context: string | undefined, issue: FastifySchemaValidationError | undefined): string {
  const part = requestParts[context ?? ''] ?? { name: context ?? 'request', key: 'field' };
  if (issue === undefined) return `${part.name}: not valid`;
  return `${part.name}${issue.instancePath}: ${issueText(issue, part.key)}`;
}

function issueText(issue: FastifySchemaValidationError, key: string): string {
  const { additionalProperty, missingProperty } = issue.params;
  if (issue.keyword === 'additionalProperties' && typeof additionalProperty === 'string')
    return `unknown ${key} ${JSON.stringify(additionalProperty)}`;
  if (issue.keyword === 'required' && typeof missingProperty === 'string') return `missing ${key} ${JSON.stringify(missingProperty)}`;
  return issue.message ?? 'not valid';
}

type Answer = readonly [status: number, code: string, message: string];

/** Router errors, met before a route (and so before auth) is known. The URL is never echoed: it may be huge or hold a token. */
const routerErrors: Readonly<Record<string, Answer>> = {
  FST_ERR_BAD_URL: [400, 'BAD_REQUEST', 'the path is not valid percent-encoded UTF-8'],
  FST_ERR_MAX_PARAM_LENGTH: [414, 'URI_TOO_LONG', 'a path parameter is too long'],
};

/** Fastify's `frameworkErrors`: the router's own errors in the SPEC shape. */
export function answerFrameworkError(err: FastifyError, _request: unknown, reply: FastifyReply): void {
  const [status, code, message] = routerErrors[err.code] ?? [500, 'INTERNAL', 'internal error; see the agent log'];
  if (status >= 500) recordFailure(reply, { level: 'error', code: err.code, reason: 'unexpected framework error' });
  void reply.status(status).send(errorBody(code, message));
  // fastify sets up no response listeners for these: no "request completed" would follow.
  logAnsweredRequest(reply);
}

/** What Node's HTTP parser refused, by its error code; anything else it refuses is a plain 400. */
const parserErrors: Readonly<Record<string, Answer>> = {
  HPE_HEADER_OVERFLOW: [431, 'HEADERS_TOO_LARGE', 'the request line and headers are too large (16 KiB at most)'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'PAYLOAD_TOO_LARGE', 'the chunk extensions are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'REQUEST_TIMEOUT', 'the request was not received in time'],
};

/**
 * The raw HTTP/1.1 answer to a request Node's parser refused: there is no
 * request object then, so nothing but the socket to write to. The error code
 * (`HPE_INVALID_METHOD`, ...) is a fixed identifier; the bytes received are
 * never echoed, since they may hold a token.
 */
export function clientErrorResponse(errorCode: string): string {
  const safeCode = /^[A-Z0-9_]{1,64}$/.test(errorCode) ? errorCode : 'unknown';
  const [status, code, message] = parserErrors[errorCode] ?? [400, 'BAD_REQUEST', `malformed HTTP request (${safeCode})`];
  const body = JSON.stringify(errorBody(code, message));
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
  ];
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

/** Fastify's `clientErrorHandler`: answers in the SPEC shape, then closes the connection. */
export function createClientErrorHandler(logger: Logger): (err: ConnectionError, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    logger.debug({ code: err.code }, 'malformed request refused');
    // As Node's own handler: never write into a response that has already started.
    if (!socket.writable || responseStarted(socket)) {
      socket.destroy();
      return;
    }
    socket.end(clientErrorResponse(err.code), () => {
      socket.destroy();
    });
  };
}

function responseStarted(socket: Socket): boolean {
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  return inFlight?.headersSent === true;
}
