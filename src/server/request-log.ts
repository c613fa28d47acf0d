import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/** What the error handler met while answering a request; logged on that request's line. */
export interface RequestFailure {
  /** `error` for an unexpected error, `warn` for a known one (a NodeCaError of 500 and above). */
  readonly level: 'warn' | 'error';
  /** node-ca's or fastify's error code. */
  readonly code?: string | undefined;
  /** The error to log with its stack (the NodeCaError's cause, or the unexpected error). */
  readonly err?: unknown;
  /** Why, in a few words: the NodeCaError's message, or "unexpected error". */
  readonly reason: string;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/**
 * The kubelet's probes and Prometheus's scrapes: every few seconds on every
 * node, so a success is logged at debug only (a 4xx or 5xx on them is not).
 */
const probeRoutes: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

const failures = new WeakMap<FastifyRequest, RequestFailure>();
const logged = new WeakSet<FastifyRequest>();

/**
 * One log line per request, when its answer is sent, in place of fastify's
 * two ("incoming request", "request completed"): method, path (the query
 * string left out: the only place a caller might put a secret that is not a
 * header), route, status, time. Never a header: the Authorization header
 * stays out by construction, not only by redaction. The level says how much
 * it matters: see `levelOf`.
 */
export class RequestLogController extends LogController {
  /** At debug: the moment the request reaches the hooks (auth), for whoever needs to see it arrive. */
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, url: pathOf(request.url) }, 'incoming request');
  }

  override requestCompleted(err: Error | null | undefined, _request: FastifyRequest, reply: FastifyReply): void {
    logAnsweredRequest(reply, err);
  }
}

/**
 * The request's line, once its answer is sent (`err`: the answer could not
 * be written). fastify calls it through the controller; the router's own
 * answers (`frameworkErrors`) bypass fastify's response listeners and call it
 * themselves.
 */
export function logAnsweredRequest(reply: FastifyReply, err?: Error | null): void {
  const { request } = reply;
  if (logged.has(request)) return;
  logged.add(request);
  const failure = failures.get(request);
  const fields = { ...requestFields(request), statusCode: reply.statusCode, responseTime: roundMs(reply.elapsedTime) };
  const level = levelOf(request, reply.statusCode, failure, err);
  request.log[level]({ ...fields, ...failureFields(failure), ...(err == null ? {} : { err }) }, 'request completed');
}

/**
 * fastify's `onRequestAbort` hook: the caller hung up before the answer, so
 * no "request completed" line will come; this is the request's line instead.
 */
export function logAbortedRequest(request: FastifyRequest, done: () => void): void {
  if (!logged.has(request)) {
    logged.add(request);
    request.log[isProbe(request) ? 'debug' : 'info']({ ...requestFields(request), aborted: true }, 'request aborted');
  }
  done();
}

/**
 * The error handler's report of a failure: logged on the request's line, so
 * one request stays one line. If that line is already written (the caller
 * hung up first), the failure gets a line of its own, so it is never lost.
 */
export function recordFailure(reply: FastifyReply, failure: RequestFailure): void {
  const { request } = reply;
  if (logged.has(request)) request.log[failure.level]({ ...requestFields(request), ...failureFields(failure) }, failure.reason);
  else failures.set(request, failure);
}

/**
 * The rule: the error handler's level when it met an error (error: unexpected,
 * warn: a known error of 500 and above); error when the answer could not be
 * written; warn for any other 5xx (`/readyz` 503); debug for a probe route that
 * answered below 400; info for everything else (every /v1 request, every 4xx).
 */
function levelOf(request: FastifyRequest, status: number, failure?: RequestFailure, err?: unknown): Level {
  if (failure !== undefined) return failure.level;
  if (err != null) return 'error';
  if (status >= 500) return 'warn';
  if (status < 400 && isProbe(request)) return 'debug';
  return 'info';
}

function isProbe(request: FastifyRequest): boolean {
  return probeRoutes.has(request.routeOptions.url ?? '');
}

function requestFields(request: FastifyRequest) {
  return { method: request.method, url: pathOf(request.url), route: request.routeOptions.url, remoteAddress: request.ip };
}

function failureFields(failure: RequestFailure | undefined) {
  if (failure === undefined) return {};
  return { code: failure.code, reason: failure.reason, err: failure.err };
}

/**
 * The request's path: the query string is dropped whole (`?token=...` would
 * otherwise reach the log, or a 404's message).
 */
export function pathOf(url: string): string {
  const end = url.indexOf('?');
  return end === -1 ? url : url.slice(0, end);
}

function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}
