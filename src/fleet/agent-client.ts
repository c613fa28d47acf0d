import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { errnoCode, errorMessage } from '../lib/errors.js';

/**
 * An HTTPS client of one node's agent (SPEC "HTTP API (v1)"), with the
 * caller's bearer token. It speaks node:https directly so a CA file or the
 * agent's self-signed certificate can be chosen per fleet run.
 */

/** Why a call failed: the agent's error code, or a transport code (UNREACHABLE, TLS, TIMEOUT, BAD_RESPONSE). */
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
  /** PEM of the CA that signs the agents' certificates; absent: accept any certificate (self-signed agents). */
  readonly ca?: string | Buffer | undefined;
  /** Per request, until the answer's headers (default 30 s). */
  readonly timeoutMs?: number;
}

/** Shared by every node's client: one connection pool, one token. */
export interface AgentTransport {
  readonly agent: Agent;
  readonly token: string;
  readonly timeoutMs: number;
  readonly verifiesCertificates: boolean;
  close(): void;
}

export function createAgentTransport(options: AgentTransportOptions): AgentTransport {
  const verify = options.ca !== undefined;
  const agent = new Agent({ keepAlive: true, ca: options.ca, rejectUnauthorized: verify });
  return {
    agent,
    token: options.token,
    timeoutMs: options.timeoutMs ?? 30_000,
    verifiesCertificates: verify,
    close: () => {
      agent.destroy();
    },
  };
}

interface CallOptions {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  readonly signal?: AbortSignal | undefined;
}

/** Sends a request and resolves with the response (any status); the body is not read. */
export function agentRequest(
  transport: AgentTransport,
  baseUrl: string,
  call: CallOptions,
): Promise<IncomingMessage> {
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
    timeout: transport.timeoutMs,
  };
  return new Promise((resolve, reject) => {
    const req = request(url, options, resolve);
    req.on('timeout', () =>
      req.destroy(
        new AgentCallError(
          'TIMEOUT',
          `${call.method} ${url.pathname}: no answer in ${transport.timeoutMs} ms`,
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
