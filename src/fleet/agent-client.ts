import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { errnoCode, errorMessage } from '../lib/errors.js';

/**
 * An HTTPS client of one node's agent (SPEC "HTTP API (v1)"), with the
 * caller's bearer token. It speaks node:https directly so a CA file or the
 * agent's self-signed certificate can be chosen per fleet run.
 */

/**
 * Why a call failed: the agent's error code, or a transport code (UNREACHABLE,
 * TLS, FLEET_TIMEOUT — fleet stopped waiting for an answer, not the agent's
 * own TIMEOUT —, BAD_RESPONSE).
 */
export class AgentCallError extends Error {
  override readonly name = 'AgentCallError';
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface AgentTransportOptions {
  readonly token: string;
  /** Obtains the token again (an agent answered 401: it may have expired); absent: no retry. */
  readonly refreshToken?: (() => Promise<string>) | undefined;
  /** PEM of the CA that signs the agents' certificates; absent: accept any certificate (self-signed agents). */
  readonly ca?: string | Buffer | undefined;
  /** Per request, until the answer's headers (default 30 s). */
  readonly timeoutMs?: number;
}

/** Shared by every node's client: one connection pool, one token. */
export interface AgentTransport {
  readonly agent: Agent;
  /** The current token; replaced by `refresh`. */
  token: string;
  /** Re-obtains the token after a 401; resolves false when it cannot (or it did not change). */
  refresh(): Promise<boolean>;
  readonly timeoutMs: number;
  readonly verifiesCertificates: boolean;
  close(): void;
}

export function createAgentTransport(options: AgentTransportOptions): AgentTransport {
  const verify = options.ca !== undefined;
  const agent = new Agent({ keepAlive: true, ca: options.ca, rejectUnauthorized: verify });
  let pending: Promise<boolean> | undefined;
  const transport: AgentTransport = {
    agent,
    token: options.token,
    refresh: () => {
      const obtain = options.refreshToken;
      if (obtain === undefined) return Promise.resolve(false);
      // Nodes answering 401 together share one refresh.
      pending ??= refreshOnce(transport, obtain).finally(() => {
        pending = undefined;
      });
      return pending;
    },
    timeoutMs: options.timeoutMs ?? 30_000,
    verifiesCertificates: verify,
    close: () => {
      agent.destroy();
    },
  };
  return transport;
}

async function refreshOnce(
  transport: AgentTransport,
  obtain: () => Promise<string>,
): Promise<boolean> {
  const token = await obtain().catch(() => '');
  if (token === '') return false;
  transport.token = token;
  return true;
}

interface CallOptions {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
  /** How long to wait for the answer's headers (default: the transport's). */
  readonly timeoutMs?: number | undefined;
}

/**
 * Sends a request and resolves with the response (any status); the body is
 * not read. A 401 gets the token obtained again and the request sent once more
 * (exec-plugin and OIDC tokens expire during a long backup).
 */
export async function agentRequest(
  transport: AgentTransport,
  baseUrl: string,
  call: CallOptions,
): Promise<IncomingMessage> {
  const sentWith = transport.token;
  const res = await sendOnce(transport, baseUrl, call);
  if (res.statusCode !== 401) return res;
  const renewed = transport.token !== sentWith || (await transport.refresh());
  if (!renewed) return res;
  res.resume();
  return sendOnce(transport, baseUrl, call);
}

function sendOnce(
  transport: AgentTransport,
  baseUrl: string,
  call: CallOptions,
): Promise<IncomingMessage> {
  const timeoutMs = call.timeoutMs ?? transport.timeoutMs;
  const url = new URL(call.path, baseUrl);
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const options: RequestOptions = {
    method: call.method,
    agent: transport.agent,
    headers: {
      authorization: `Bearer ${transport.token}`,
      accept: 'application/json',
      ...(body === undefined
        ? {}
        : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
    },
    signal: call.signal,
    timeout: timeoutMs,
  };
  return new Promise((resolve, reject) => {
    const req = request(url, options, resolve);
    req.on('timeout', () =>
      req.destroy(
        new AgentCallError(
          'FLEET_TIMEOUT',
          `${call.method} ${url.pathname}: fleet stopped waiting after ${Math.round(timeoutMs / 1000)} s without an answer`,
        ),
      ),
    );
    req.on('error', (err) => {
      reject(transportError(err, url));
    });
    req.end(body);
  });
}

/** A JSON call: 2xx → the parsed body; otherwise an AgentCallError with the SPEC error code. */
export async function agentJson<T>(
  transport: AgentTransport,
  baseUrl: string,
  call: CallOptions,
): Promise<T> {
  const res = await agentRequest(transport, baseUrl, call);
  const text = await readText(res);
  const status = res.statusCode ?? 0;
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new AgentCallError(
      'BAD_RESPONSE',
      `${call.method} ${call.path}: HTTP ${status}, not JSON`,
      status,
    );
  }
  if (status >= 200 && status < 300) return parsed as T;
  throw errorFromBody(parsed, status, `${call.method} ${call.path}`);
}

export function errorFromBody(body: unknown, status: number, what: string): AgentCallError {
  const e = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof e?.code === 'string' ? e.code : `HTTP_${status}`;
  const message = typeof e?.message === 'string' ? e.message : `${what}: HTTP ${status}`;
  return new AgentCallError(code, `HTTP ${status} ${code}: ${message}`, status);
}

export async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const unreachable = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'ENOTFOUND',
  'EPIPE',
]);

function transportError(err: unknown, url: URL): AgentCallError {
  if (err instanceof AgentCallError) return err;
  const code = errnoCode(err) ?? '';
  const where = url.host;
  if (code === 'ABORT_ERR')
    return new AgentCallError('ABORTED', `${where}: request aborted`, undefined, { cause: err });
  if (unreachable.has(code))
    return new AgentCallError('UNREACHABLE', `${where}: ${code}`, undefined, { cause: err });
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code.includes('SELF_SIGNED'))
    return new AgentCallError('TLS', `${where}: TLS: ${code} ${errorMessage(err)}`, undefined, {
      cause: err,
    });
  return new AgentCallError('UNREACHABLE', `${where}: ${errorMessage(err)}`, undefined, {
    cause: err,
  });
}
