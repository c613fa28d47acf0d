import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAgentProcess, type AgentProcess, type LogLine } from '../support/agent.js';
import { startKubeApiDouble, type KubeApiDouble, type ReviewKind } from '../support/kube-api-double.js';
import { issueServerCert, makeCa } from '../support/pki.js';
import { waitFor } from '../support/poll.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  peer: PeerCertificate | undefined;
}

/** One HTTPS (or socket) request; `ca` pins the server certificate, else it is not verified. */
function call(url: string, options: { token?: string; ca?: string; socketPath?: string; method?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
    const onResponse = (res: import('node:http').IncomingMessage) => {
      let body = '';
      const socket = res.socket as TLSSocket | null;
      const peer = typeof socket?.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peer });
      });
    };
    const req =
      options.socketPath !== undefined
        ? httpRequest({ socketPath: options.socketPath, path: url, method: options.method ?? 'GET', headers }, onResponse)
        : httpsRequest(url, { method: options.method ?? 'GET', headers, agent: false, ...(options.ca === undefined ? { rejectUnauthorized: false } : { ca: options.ca }) }, onResponse);
    req.on('error', reject);
    req.end();
  });
}

/** Raw bytes over TLS to the agent; resolves with everything it answers until it closes. */
function rawCall(url: string, bytes: string): Promise<{ status: number; head: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => socket.write(bytes));
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString('latin1')));
    socket.on('close', () => {
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      resolve({ status: Number(head.split(' ')[1]), head: head.toLowerCase(), body });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
  });
}

let root: string;
const agents: AgentProcess[] = [];
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'node-ca-server-'));
  await mkdir(path.join(root, 'ca'));
  await writeFile(path.join(root, 'default-token'), 'default-token-value');
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

function config(server: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    trust: { sourceDir: path.join(root, 'ca'), containerdCertsDir: path.join(root, 'containerd'), dockerCertsDir: '' },
    hosts: { file: '' },
    backup: { dir: path.join(root, 'backup'), stateDir: path.join(root, 'state') },
    // Token auth unless a test says otherwise: kubernetes mode needs the API double.
    server: { listen: '127.0.0.1:0', socket: '', auth: { mode: 'token', tokenFile: path.join(root, 'default-token') }, ...server },
    ...extra,
  };
}

async function start(cfg: unknown, env?: Record<string, string>): Promise<AgentProcess> {
  const agent = await startAgentProcess({ config: cfg, ...(env === undefined ? {} : { env }) });
  agents.push(agent);
  return agent;
}

async function startFailing(cfg: unknown): Promise<{ code: number | null; stderr: string }> {
  const agent = await startAgentProcess({ config: cfg, waitStarted: false });
  agents.push(agent);
  const { code } = await agent.exited;
  return { code, stderr: agent.stderr.join('\n') };
}

describe('HTTPS with the self-signed certificate', () => {
  it('names the node, node IP, pod IP, localhost and 127.0.0.1, and verifies when pinned', async () => {
    const agent = await start(config({}, { nodeIP: '192.168.3.10' }), { POD_IP: '10.244.1.7' });
    expect(agent.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const first = await call(`${agent.url!}/healthz`);
    expect(first.status).toBe(200);
    expect(first.peer?.subjectaltname).toBe('DNS:test-node, IP Address:192.168.3.10, IP Address:10.244.1.7, DNS:localhost, IP Address:127.0.0.1');
    const pem = new X509Certificate(first.peer!.raw).toString();
    const pinned = await call(`${agent.url!}/healthz`, { ca: pem });
    expect(pinned.status).toBe(200);
  });
});

describe('auth.mode: kubernetes, against the API server double', () => {
  let api: KubeApiDouble;
  beforeAll(async () => {
    api = await startKubeApiDouble();
    api.tokens.set('tok-operator', { username: 'system:serviceaccount:ops:cleaner', groups: ['ops'], audiences: ['node-ca'] });
    api.tokens.set('tok-reader', { username: 'reader' });
    api.tokens.set('tok-other-aud', { username: 'system:serviceaccount:ops:cleaner', audiences: ['vault'] });
    api.accessRules.push({ user: 'system:serviceaccount:ops:cleaner', resource: 'status', verb: 'get', name: 'test-node' });
    api.accessRules.push({ user: 'reader', resource: 'status', verb: 'get', name: 'another-node' });
  });
  afterAll(async () => {
    await api.close();
  });

  it('answers 401, 403, 200 and, with the API down, 503 AUTH_UNAVAILABLE', async () => {
    const agent = await start(config({ auth: { mode: 'kubernetes', audiences: ['node-ca'] } }, { kubeconfig: api.kubeconfigPath }));
    const url = `${agent.url!}/v1/status`;
    const none = await call(url);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="node-ca"');
    expect((await call(url, { token: 'tok-unknown' })).status).toBe(401);
    expect((await call(url, { token: 'tok-other-aud' })).status).toBe(401);
    const denied = await call(url, { token: 'tok-reader' });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toMatchObject({
      error: { code: 'FORBIDDEN', group: 'node-ca.alauda.io', resource: 'status', verb: 'get', name: 'test-node' },
    });
    const ok = await call(url, { token: 'tok-operator' });
    expect(ok.status).toBe(200);
    expect(api.accessReviews).toContainEqual(
      expect.objectContaining({ user: 'system:serviceaccount:ops:cleaner', resourceAttributes: expect.objectContaining({ group: 'node-ca.alauda.io', resource: 'status', verb: 'get', name: 'test-node' }) as unknown }),
    );
    api.apiDown = 'refuse';
    try {
      // A token never seen is not in the cache: the agent must ask, and cannot.
      api.tokens.set('tok-new', { username: 'system:serviceaccount:ops:cleaner' });
      const down = await call(url, { token: 'tok-new' });
      expect(down.status).toBe(503);
      expect(JSON.parse(down.body)).toEqual({ error: { code: 'AUTH_UNAVAILABLE', message: expect.any(String) as unknown } });
      // One line for the request, at warn, with the code and the cause (not a second line for the error).
      const line = await agent.waitForLog((l) => l.msg === 'request completed' && l.statusCode === 503);
      expect(line).toMatchObject({ level: 40, url: '/v1/status', code: 'AUTH_UNAVAILABLE', err: expect.objectContaining({ message: expect.any(String) as unknown }) as unknown });
      expect(agent.logs.filter((l) => l.reqId === line.reqId && l.component === 'http')).toEqual([line]);
    } finally {
      api.apiDown = false;
    }
    expect((await call(url, { token: 'tok-new' })).status).toBe(200);
    expect((await call(`${agent.url!}/metrics`)).status).toBe(200);
    const logText = JSON.stringify(agent.logs);
    expect(logText).not.toContain('tok-operator');
    expect(logText).not.toContain('tok-new');
  });

  // At debug: `burst` counts the "incoming request" lines, which are debug.
  const kubernetesAgent = () => start(config({ auth: { mode: 'kubernetes' } }, { kubeconfig: api.kubeconfigPath }), { NODE_CA_LOG_LEVEL: 'debug' });
  const tokenReviewsOf = (token: string) => api.tokenReviews.filter((spec) => spec.token === token).length;
  const accessReviewsOf = (user: string) => api.accessReviews.filter((spec) => spec.user === user).length;
  const allowStatus = (token: string, username: string) => {
    api.tokens.set(token, { username });
    api.accessRules.push({ user: username, resource: 'status', verb: 'get', name: 'test-node' });
  };

  /**
   * `count` concurrent GET /v1/status with one token while the double holds the `kind` reviews;
   * released (as usual, or failed with `code`) once every request has reached the authorizer —
   * the agent logs "incoming request" (debug) in the same synchronous run that calls it.
   */
  async function burst(agent: AgentProcess, options: { token: string; count: number; kind: ReviewKind; code?: number }): Promise<Answer[]> {
    const hold = api.holdReviews(options.kind);
    const answers = Promise.all(Array.from({ length: options.count }, () => call(`${agent.url!}/v1/status`, { token: options.token })));
    try {
      const arrived = () => agent.logs.filter((l) => l.msg === 'incoming request').length;
      await waitFor(() => hold.waiting > 0 && arrived() === options.count, { message: `${options.count} requests at the agent and a held ${options.kind} call` });
    } finally {
      hold.release(options.code);
    }
    return answers;
  }

  it('asks one TokenReview and one SubjectAccessReview for 20 concurrent requests with a new token', async () => {
    allowStatus('tok-burst', 'burst');
    const agent = await kubernetesAgent();
    const answers = await burst(agent, { token: 'tok-burst', count: 20, kind: 'tokenreviews' });
    expect(answers.map((a) => a.status)).toEqual(Array<number>(20).fill(200));
    expect(tokenReviewsOf('tok-burst')).toBe(1);
    expect(accessReviewsOf('burst')).toBe(1);
  });

  it.each([
    ['tokenreviews', 'TokenReview'],
    ['subjectaccessreviews', 'SubjectAccessReview'],
  ] as const)('answers 503 to every request waiting on a failed %s call, caches nothing, and asks again for the next request', async (kind, name) => {
    const token = `tok-flaky-${kind}`;
    const user = `flaky-${kind}`;
    allowStatus(token, user);
    const agent = await kubernetesAgent();
    const failed = await burst(agent, { token, count: 10, kind, code: 500 });
    expect(failed.map((a) => a.status)).toEqual(Array<number>(10).fill(503));
    for (const a of failed) expect(JSON.parse(a.body)).toMatchObject({ error: { code: 'AUTH_UNAVAILABLE' } });
    const asked = () => (kind === 'tokenreviews' ? tokenReviewsOf(token) : accessReviewsOf(user));
    expect(asked(), `${name}s sent for 10 waiting requests`).toBe(1);
    expect((await call(`${agent.url!}/v1/status`, { token })).status).toBe(200);
    expect(asked(), `${name}s sent after the next request`).toBe(2);
    expect(JSON.stringify(agent.logs)).not.toContain(token);
  });

  it('refuses to start without a way to reach the API (exit 2, kubeconfig named)', async () => {
    const { code, stderr } = await startFailing(config({ auth: { mode: 'kubernetes' } }));
    expect(code).toBe(2);
    expect(stderr).toContain('kubeconfig');
  });
});

describe('tls.mode: files', () => {
  const ca = makeCa('node-ca-test-ca');
  const a = issueServerCert(ca, ['127.0.0.1', 'first.example'], { keyIndex: 1 });
  const b = issueServerCert(ca, ['127.0.0.1', 'second.example'], { keyIndex: 2 });

  it('serves the files and reloads them when they are replaced', async () => {
    const certFile = path.join(root, 'tls', 'tls.crt');
    const keyFile = path.join(root, 'tls', 'tls.key');
    await mkdir(path.dirname(certFile));
    await writeFile(certFile, a.cert);
    await writeFile(keyFile, a.key);
    const agent = await start(config({ tls: { mode: 'files', certFile, keyFile } }));
    const before = await call(`${agent.url!}/healthz`, { ca: ca.cert });
    expect(before.peer?.subjectaltname).toContain('first.example');
    // Replaced the way cert-manager tooling does: each file by a rename.
    await writeFile(`${keyFile}.new`, b.key);
    await writeFile(`${certFile}.new`, b.cert);
    await rename(`${keyFile}.new`, keyFile);
    await rename(`${certFile}.new`, certFile);
    await waitFor(async () => (await call(`${agent.url!}/healthz`, { ca: ca.cert })).peer?.subjectaltname?.includes('second.example'), {
      timeoutMs: 15_000,
      message: 'the new certificate served',
    });
    await agent.waitForLog((l) => l.msg === 'TLS certificate reloaded');
  });

  it('refuses to start with a key that does not belong to the certificate (exit 2, key named)', async () => {
    const certFile = path.join(root, 'tls.crt');
    const keyFile = path.join(root, 'tls.key');
    await writeFile(certFile, a.cert);
    await writeFile(keyFile, b.key);
    const { code, stderr } = await startFailing(config({ tls: { mode: 'files', certFile, keyFile } }));
    expect(code).toBe(2);
    expect(stderr).toContain('server.tls.keyFile');
    expect(stderr).toContain('is not the private key of the certificate');
  });

  it('refuses to start with an unreadable certificate file (exit 2, key named)', async () => {
    const { code, stderr } = await startFailing(config({ tls: { mode: 'files', certFile: path.join(root, 'nope.crt'), keyFile: path.join(root, 'nope.key') } }));
    expect(code).toBe(2);
    expect(stderr).toMatch(/server\.tls\.certFile: cannot read .*nope\.crt/);
  });
});

describe('the Unix socket', () => {
  it('is created with mode 0600, replaces a stale socket, and answers without a token', async () => {
    const socketPath = path.join(root, 'run', 'agent.sock');
    const first = await start(config({ socket: socketPath }));
    expect(first.socket).toBe(socketPath);
    await first.stop('SIGKILL');
    // kill -9 leaves the socket file behind; the next agent must take over.
    expect((await stat(socketPath)).isSocket()).toBe(true);
    const agent = await start(config({ socket: socketPath }));
    const st = await stat(socketPath);
    expect(st.mode & 0o777).toBe(0o600);
    const res = await call('/v1/status', { socketPath });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ node: 'test-node' });
    // hosts.file is "" here: the section is there all the same, empty.
    expect(JSON.parse(res.body)).toMatchObject({
      hosts: { file: '', entries: [], services: [], lastSyncTime: null, lastWrite: null, errors: [] },
    });
    const tcp = await call(`${agent.url!}/v1/status`);
    expect(tcp.status).toBe(401);
  });
});

describe('insecure configurations', () => {
  it.each([
    [{ listen: '0.0.0.0:0', auth: { mode: 'none' } }, 'server.auth.mode: none is only allowed when server.listen is a loopback address'],
    [{ listen: '0.0.0.0:0', tls: { mode: 'disabled' } }, 'server.tls.mode: disabled is only allowed when server.listen is a loopback address'],
    [{ auth: { mode: 'token' } }, 'server.auth.tokenFile'],
  ])('refuses %j at start with exit code 2 and the key in the message', async (server, message) => {
    const { code, stderr } = await startFailing(config(server));
    expect(code).toBe(2);
    expect(stderr).toContain(message);
  });
});

describe('auth.mode: token', () => {
  it('answers 401 without or with a wrong token, 200 with the file contents, and follows a new token', async () => {
    const tokenFile = path.join(root, 'secret', 'token');
    await mkdir(path.dirname(tokenFile));
    await writeFile(tokenFile, 'first-SECRET-token\n');
    const agent = await start(config({ auth: { mode: 'token', tokenFile } }));
    const url = `${agent.url!}/v1/status`;
    expect((await call(url)).status).toBe(401);
    const wrong = await call(url, { token: 'first-SECRET-tokenX' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body)).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'the bearer token is not valid' } });
    expect((await call(url, { token: 'first-SECRET-token' })).status).toBe(200);
    expect((await call(`${agent.url!}/v1/status?x=1`, { token: 'first-SECRET-token' })).status).toBe(400);
    expect((await call(`${agent.url!}/v1/status`, { token: 'first-SECRET-token', method: 'DELETE' })).status).toBe(405);
    await writeFile(tokenFile, 'second-SECRET-token');
    await waitFor(async () => (await call(url, { token: 'second-SECRET-token' })).status === 200, { timeoutMs: 15_000, message: 'new token accepted' });
    expect((await call(url, { token: 'first-SECRET-token' })).status).toBe(401);
    await agent.stop();
    expect(agent.logs.length).toBeGreaterThan(5);
    const logText = JSON.stringify(agent.logs) + agent.stderr.join('\n');
    expect(logText).not.toContain('SECRET');
  });
});

describe('edges of the HTTP API on a real listener', () => {
  const token = 'default-token-value';
  const errorOf = (body: string) => (JSON.parse(body) as { error: { code: string; message: string } }).error;

  it('answers router and parser errors in the SPEC shape without echoing the request', async () => {
    const agent = await start(config({}));
    const url = agent.url!;
    const badUrl = await call(`${url}/v1/backups/%FF`);
    expect(badUrl.status).toBe(400);
    expect(errorOf(badUrl.body).code).toBe('BAD_REQUEST');
    const long = await call(`${url}/v1/backups/${'a'.repeat(150)}`);
    expect(long.status).toBe(414);
    expect(errorOf(long.body).code).toBe('URI_TOO_LONG');
    expect(long.body).not.toContain('aaaa');
    const big = await rawCall(url, `GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nX-Pad: ${'p'.repeat(17_000)}\r\n\r\n`);
    expect(big.status).toBe(431);
    expect(big.head).toContain('connection: close');
    expect(errorOf(big.body).code).toBe('HEADERS_TOO_LARGE');
    const badLength = await rawCall(url, `POST /v1/backups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Length: abc\r\n\r\n`);
    expect(badLength.status).toBe(400);
    expect(errorOf(badLength.body).code).toBe('BAD_REQUEST');
    expect(badLength.body).not.toContain(token);
  });

  it('reads a trailing slash as none, refuses two Authorization headers, and names the unknown parameter', async () => {
    const agent = await start(config({}));
    const url = agent.url!;
    expect((await call(`${url}/v1/status/`, { token })).status).toBe(200);
    const list = await call(`${url}/v1/backups/`, { token });
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body)).toEqual({ items: [] });
    for (const [first, second] of [[token, 'wrong'], ['wrong', token]]) {
      const twice = await rawCall(url, `GET /v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${first}\r\nAuthorization: Bearer ${second}\r\nConnection: close\r\n\r\n`);
      expect(twice.status).toBe(400);
      expect(errorOf(twice.body)).toEqual({ code: 'BAD_REQUEST', message: 'more than one Authorization header' });
    }
    const query = await call(`${url}/v1/backups?limit=5`, { token });
    expect(errorOf(query.body)).toEqual({ code: 'BAD_REQUEST', message: 'query: unknown parameter "limit"' });
  });

  it('exports the backup and pull-check counters at 0 before their first use', async () => {
    const agent = await start(config({}));
    const metrics = await call(`${agent.url!}/metrics`);
    expect(metrics.body).toContain('node_ca_backups_total{phase="Failed"} 0');
    expect(metrics.body).toContain('node_ca_pull_checks_total{result="X509_UNKNOWN_AUTHORITY"} 0');
  });
});

describe('request logs', () => {
  const token = 'default-token-value';
  const probes = ['/healthz', '/readyz', '/metrics'];
  const isRequestLine = (l: LogLine) => l.component === 'http' && l.reqId !== undefined;

  /** GETs `path` with the token and waits for its request line: every line written before it has been read too. */
  async function fence(agent: AgentProcess, path: string): Promise<LogLine> {
    const res = await call(`${agent.url!}${path}`, { token });
    expect(res.status).toBe(200);
    return agent.waitForLog((l) => l.msg === 'request completed' && l.url === path);
  }

  it('logs nothing at info for successful probes and scrapes, and exactly one info line per API request', async () => {
    const agent = await start(config({}));
    await waitFor(async () => (await call(`${agent.url!}/readyz`)).status === 200, { timeoutMs: 15_000, message: 'ready' });
    const first = await fence(agent, '/v1/status');
    for (let i = 0; i < 10; i++) for (const probe of probes) expect((await call(`${agent.url!}${probe}`)).status).toBe(200);
    const last = await fence(agent, '/v1/backups');
    const between = agent.logs.slice(agent.logs.indexOf(first) + 1, agent.logs.indexOf(last));
    expect(between.filter(isRequestLine)).toEqual([]);
    expect(agent.logs.filter((l) => l.reqId === last.reqId && l.component === 'http')).toEqual([last]);
    expect(last).toMatchObject({
      level: 30,
      msg: 'request completed',
      method: 'GET',
      url: '/v1/backups',
      route: '/v1/backups',
      statusCode: 200,
      remoteAddress: '127.0.0.1',
      responseTime: expect.any(Number) as unknown,
    });
    expect(Object.keys(last)).not.toContain('req');
  });

  it('logs each probe at debug when NODE_CA_LOG_LEVEL=debug', async () => {
    const agent = await start(config({}), { NODE_CA_LOG_LEVEL: 'debug' });
    for (let i = 0; i < 7; i++) expect((await call(`${agent.url!}/healthz`)).status).toBe(200);
    await fence(agent, '/v1/status');
    const healthz = agent.logs.filter((l) => l.msg === 'request completed' && l.url === '/healthz');
    expect(healthz).toHaveLength(7);
    for (const l of healthz) expect(l).toMatchObject({ level: 20, route: '/healthz', statusCode: 200 });
  });

  it('never holds a token, from the Authorization header or the query string', async () => {
    const agent = await start(config({}));
    const url = agent.url!;
    expect((await call(`${url}/v1/status?access_token=QUERY-SECRET-1`, { token })).status).toBe(400);
    expect((await call(`${url}/v1/status?token=QUERY-SECRET-2`)).status).toBe(401);
    expect((await call(`${url}/v1/status`, { token: 'WRONG-SECRET-3' })).status).toBe(401);
    await fence(agent, '/v1/status');
    const refused = agent.logs.filter((l) => l.msg === 'request completed' && l.statusCode !== 200);
    expect(refused.map((l) => [l.url, l.statusCode])).toEqual([
      ['/v1/status', 400],
      ['/v1/status', 401],
      ['/v1/status', 401],
    ]);
    const logText = JSON.stringify(agent.logs) + agent.stderr.join('\n');
    for (const secret of [token, 'QUERY-SECRET', 'WRONG-SECRET']) expect(logText).not.toContain(secret);
  });
});
