import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { issueServerCert, makeCa } from './pki.js';
import { compileSelectors, type KubeObject } from './kube-selectors.js';

export type { KubeObject };

/**
 * An HTTPS double of the kube-apiserver speaking its wire protocol, driven by
 * the real @kubernetes/client-node: lists with `resourceVersion`, chunked
 * watch streams (headers flushed at once, one JSON event per line, resume
 * from a resourceVersion, 410 Gone as an ERROR event for a compacted one),
 * TokenReview, SubjectAccessReview and events.k8s.io/v1 Events. Tests change
 * objects through its methods, break it (`dropConnections`, `apiDown`), hold
 * review answers (`holdReviews`) and count the requests an agent makes.
 */

export type ResourceName = 'configmaps' | 'services' | 'nodes' | 'pods';
const resources: Record<ResourceName, { kind: string; namespaced: boolean }> = {
  configmaps: { kind: 'ConfigMap', namespaced: true },
  services: { kind: 'Service', namespaced: true },
  nodes: { kind: 'Node', namespaced: false },
  pods: { kind: 'Pod', namespaced: true },
};

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEntry {
  rv: number;
  resource: ResourceName;
  type: WatchEventType;
  object: KubeObject;
}
interface Watcher {
  resource: ResourceName;
  namespace: string | undefined;
  match: (o: KubeObject) => boolean;
  res: ServerResponse;
}

export interface RequestRecord {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly watch: boolean;
  readonly time: number;
}

export interface TokenIdentity {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  /** Audiences the token is valid for; undefined: any requested audience. */
  readonly audiences?: readonly string[];
}

export interface AccessRule {
  readonly user: string;
  readonly resource: string;
  readonly verb: string;
  /** undefined: any name. */
  readonly name?: string;
  readonly group?: string;
}

/** The two review kinds, by their resource name. */
export type ReviewKind = 'tokenreviews' | 'subjectaccessreviews';
const reviewPaths: Record<string, ReviewKind> = {
  '/apis/authentication.k8s.io/v1/tokenreviews': 'tokenreviews',
  '/apis/authorization.k8s.io/v1/subjectaccessreviews': 'subjectaccessreviews',
};

/** Reviews of one kind held unanswered (`holdReviews`) until the test releases them. */
export interface ReviewHold {
  /** Reviews received and not answered yet. */
  readonly waiting: number;
  /**
   * Answers every held review and stops holding: as usual, or with `code` and a
   * Status body the way the API server fails a request (e.g. 500 InternalError).
   */
  release(code?: number): void;
}

/** `refuse`: every new TCP connection is reset; `unavailable`: every request answers 503. */
export type ApiDownMode = false | 'refuse' | 'unavailable';

export interface KubeApiDouble {
  readonly url: string;
  /** A kubeconfig file (server, CA data, bearer token) for this double. */
  readonly kubeconfigPath: string;
  readonly token: string;
  readonly caPem: string;
  /** Every request received, in order. */
  readonly requests: RequestRecord[];
  /** Bodies of posted events.k8s.io/v1 Events, with their namespace. */
  readonly events: KubeObject[];
  /** TokenReview answers: token → identity (absent: not authenticated). */
  readonly tokens: Map<string, TokenIdentity>;
  /** SubjectAccessReview answers: allowed when a rule matches. */
  readonly accessRules: AccessRule[];
  /** TokenReview request specs received (answered or not). */
  readonly tokenReviews: Record<string, unknown>[];
  /** SubjectAccessReview request specs received (answered or not). */
  readonly accessReviews: Record<string, unknown>[];
  /** Holds the answer of every review of `kind` received from now until `release`. */
  holdReviews(kind: ReviewKind): ReviewHold;
  apiDown: ApiDownMode;
  create(resource: ResourceName, obj: KubeObject): KubeObject;
  update(resource: ResourceName, obj: KubeObject): KubeObject;
  /** Creates or updates. */
  apply(resource: ResourceName, obj: KubeObject): KubeObject;
  remove(resource: ResourceName, namespace: string | undefined, name: string): void;
  get(resource: ResourceName, namespace: string | undefined, name: string): KubeObject | undefined;
  /** The current resourceVersion (as a number). */
  readonly resourceVersion: number;
  /** Forgets history: a watch from a resourceVersion older than the current one now gets 410 Gone. */
  compact(): void;
  /** Destroys every open connection (watches included) without a goodbye. */
  dropConnections(): void;
  /** Open watch streams now. */
  readonly watchCount: number;
  close(): Promise<void>;
}

function status(code: number, reason: string, message: string) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
  };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
}

/** A watch's `resourceVersion`: absent, empty and "0" all mean "start from the current state". */
function watchStartVersion(fromRv: string | undefined): number | undefined {
  return fromRv === undefined || fromRv === '' || fromRv === '0' ? undefined : Number(fromRv);
}

/** `namespaces/NS/REST…` → NS and REST…; anything else has no namespace. */
function splitNamespace(segments: string[]): { namespace: string | undefined; rest: string[] } {
  if (segments[0] === 'namespaces' && segments.length >= 3)
    return { namespace: segments[1], rest: segments.slice(2) };
  return { namespace: undefined, rest: segments };
}

function isResourceName(name: string | undefined): name is ResourceName {
  return name !== undefined && name in resources;
}

/**
 * A TokenReview's status for the identity a token maps to: authenticated when the token is known
 * and carries one of the wanted audiences (any, when none are wanted or it is not audience-bound).
 */
function tokenReviewStatus(id: TokenIdentity | undefined, wanted: readonly string[]) {
  if (id === undefined) return { authenticated: false, error: 'invalid bearer token', user: {} };
  if (!audiencesMatch(id, wanted))
    return { authenticated: false, error: 'token audiences do not match', user: {} };
  return {
    authenticated: true,
    user: { username: id.username, uid: id.uid ?? '', groups: id.groups ?? [] },
    audiences:
      wanted.length > 0
        ? wanted.filter((a) => id.audiences?.includes(a) ?? true)
        : (id.audiences ?? []),
  };
}

function audiencesMatch(id: TokenIdentity, wanted: readonly string[]): boolean {
  return (
    id.audiences === undefined ||
    wanted.length === 0 ||
    wanted.some((a) => id.audiences?.includes(a))
  );
}

export async function startKubeApiDouble(options: { token?: string } = {}): Promise<KubeApiDouble> {
  const ca = makeCa('kube-api-double-ca');
  const serverCert = issueServerCert(ca, ['localhost', '127.0.0.1']);
  const token = options.token ?? `double-${randomUUID()}`;
  const store = new Map<string, KubeObject>(); // `${resource}/${ns}/${name}`
  const history: HistoryEntry[] = [];
  const watchers = new Set<Watcher>();
  const sockets = new Set<Socket>();
  let rv = 100;
  let compactedBefore = 0;
  let apiDown: ApiDownMode = false;
  const requests: RequestRecord[] = [];
  const events: KubeObject[] = [];
  const tokens = new Map<string, TokenIdentity>();
  const accessRules: AccessRule[] = [];
  const tokenReviews: Record<string, unknown>[] = [];
  const accessReviews: Record<string, unknown>[] = [];
  const holds = new Map<ReviewKind, ((code: number | undefined) => void)[]>();

  const keyOf = (r: ResourceName, ns: string | undefined, name: string) =>
    `${r}/${ns ?? ''}/${name}`;

  function record(resource: ResourceName, type: WatchEventType, obj: KubeObject): KubeObject {
    rv += 1;
    const stored: KubeObject = structuredClone({
      ...obj,
      apiVersion: 'v1',
      kind: resources[resource].kind,
      metadata: { ...obj.metadata, resourceVersion: String(rv) },
    });
    const key = keyOf(resource, obj.metadata.namespace, obj.metadata.name);
    if (type === 'DELETED') store.delete(key);
    else store.set(key, stored);
    history.push({ rv, resource, type, object: stored });
    for (const w of watchers) if (sees(w, resource, stored)) writeEvent(w.res, type, stored);
    return structuredClone(stored);
  }

  function sees(w: Watcher, resource: ResourceName, o: KubeObject): boolean {
    return (
      w.resource === resource &&
      (w.namespace === undefined || w.namespace === o.metadata.namespace) &&
      w.match(o)
    );
  }

  function writeEvent(res: ServerResponse, type: string, object: unknown): void {
    res.write(`${JSON.stringify({ type, object })}\n`);
  }

  function list(
    resource: ResourceName,
    namespace: string | undefined,
    match: (o: KubeObject) => boolean,
  ) {
    const items = [...store.entries()]
      .filter(([k]) => k.startsWith(`${resource}/`))
      .map(([, o]) => o)
      .filter((o) => (namespace === undefined || o.metadata.namespace === namespace) && match(o));
    return {
      kind: `${resources[resource].kind}List`,
      apiVersion: 'v1',
      metadata: { resourceVersion: String(rv) },
      items,
    };
  }

  function startWatch(
    res: ServerResponse,
    w: Omit<Watcher, 'res'>,
    fromRv: string | undefined,
  ): void {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const watcher: Watcher = { ...w, res };
    const from = watchStartVersion(fromRv);
    if (from !== undefined && from < compactedBefore) {
      writeEvent(
        res,
        'ERROR',
        status(410, 'Expired', `too old resource version: ${from} (${compactedBefore})`),
      );
      res.end();
      return;
    }
    replay(watcher, from);
    watchers.add(watcher);
    res.on('close', () => watchers.delete(watcher));
  }

  /** A new watch's first events: the current objects as ADDED, or the history after `from`. */
  function replay(watcher: Watcher, from: number | undefined): void {
    const { res } = watcher;
    if (from === undefined) {
      for (const o of list(watcher.resource, watcher.namespace, watcher.match).items)
        writeEvent(res, 'ADDED', o);
      return;
    }
    for (const h of history)
      if (h.rv > from && sees(watcher, h.resource, h.object)) writeEvent(res, h.type, h.object);
  }

  function route(
    req: IncomingMessage,
    url: URL,
  ): { resource: ResourceName; namespace?: string; name?: string } | undefined {
    const parts = url.pathname.split('/').filter(Boolean);
    if (parts[0] !== 'api' || parts[1] !== 'v1') return undefined;
    const { namespace, rest } = splitNamespace(parts.slice(2));
    const resource = rest[0];
    if (!isResourceName(resource) || rest.length > 2 || req.method !== 'GET') return undefined;
    return {
      resource,
      ...(namespace === undefined ? {} : { namespace }),
      ...(rest[1] === undefined ? {} : { name: rest[1] }),
    };
  }

  function handleRead(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const r = route(req, url);
    if (r === undefined) return false;
    if (r.name !== undefined) {
      const o = store.get(keyOf(r.resource, r.namespace, r.name));
      if (o === undefined)
        send(res, 404, status(404, 'NotFound', `${r.resource} "${r.name}" not found`));
      else send(res, 200, o);
      return true;
    }
    let match: (o: KubeObject) => boolean;
    try {
      match = compileSelectors(
        url.searchParams.get('fieldSelector'),
        url.searchParams.get('labelSelector'),
      );
    } catch (err) {
      send(res, 400, status(400, 'BadRequest', String(err)));
      return true;
    }
    const watch = url.searchParams.get('watch');
    if (watch === 'true' || watch === '1') {
      startWatch(
        res,
        { resource: r.resource, namespace: r.namespace, match },
        url.searchParams.get('resourceVersion') ?? undefined,
      );
    } else send(res, 200, list(r.resource, r.namespace, match));
    return true;
  }

  async function handlePost(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (req.method !== 'POST') return false;
    const p = url.pathname;
    const review = reviewPaths[p];
    if (review !== undefined) {
      await answerReview(review, await readJson(req), res);
      return true;
    }
    const ev = /^\/apis\/events\.k8s\.io\/v1\/namespaces\/([^/]+)\/events$/.exec(p);
    if (ev !== null) {
      const body = (await readJson(req)) as unknown as KubeObject;
      rv += 1;
      const stored = {
        ...body,
        metadata: {
          ...body.metadata,
          namespace: ev[1],
          resourceVersion: String(rv),
          uid: randomUUID(),
        },
      };
      events.push(stored);
      send(res, 201, stored);
      return true;
    }
    return false;
  }

  async function answerReview(
    kind: ReviewKind,
    body: Record<string, unknown>,
    res: ServerResponse,
  ): Promise<void> {
    (kind === 'tokenreviews' ? tokenReviews : accessReviews).push(
      (body.spec ?? {}) as Record<string, unknown>,
    );
    const held = holds.get(kind);
    const code =
      held === undefined
        ? undefined
        : await new Promise<number | undefined>((resolve) => held.push(resolve));
    if (code !== undefined)
      send(res, code, status(code, 'InternalError', `the double failed this ${kind} request`));
    else send(res, 201, kind === 'tokenreviews' ? tokenReview(body) : accessReview(body));
  }

  function holdReviews(kind: ReviewKind): ReviewHold {
    if (holds.has(kind)) throw new Error(`${kind} are held already`);
    const held: ((code: number | undefined) => void)[] = [];
    holds.set(kind, held);
    return {
      get waiting() {
        return held.length;
      },
      release(code) {
        if (holds.get(kind) === held) holds.delete(kind);
        for (const answer of held.splice(0)) answer(code);
      },
    };
  }

  function tokenReview(body: Record<string, unknown>) {
    const spec = (body.spec ?? {}) as { token?: string; audiences?: string[] };
    return {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      metadata: {},
      spec,
      status: tokenReviewStatus(tokens.get(spec.token ?? ''), spec.audiences ?? []),
    };
  }

  function accessReview(body: Record<string, unknown>) {
    const spec = (body.spec ?? {}) as {
      user?: string;
      resourceAttributes?: Record<string, string>;
    };
    const a = spec.resourceAttributes ?? {};
    const allowed = accessRules.some(
      (r) =>
        r.user === spec.user &&
        r.resource === a.resource &&
        r.verb === a.verb &&
        (r.name === undefined || r.name === a.name) &&
        (r.group === undefined || r.group === a.group),
    );
    return {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      metadata: {},
      spec,
      status: { allowed, ...(allowed ? {} : { reason: 'no rule matched' }) },
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://double');
    const query = Object.fromEntries(url.searchParams.entries());
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query,
      watch: query.watch === 'true' || query.watch === '1',
      time: Date.now(),
    });
    if (apiDown === 'unavailable') {
      send(res, 503, status(503, 'ServiceUnavailable', 'the double is down'));
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      send(res, 401, status(401, 'Unauthorized', 'Unauthorized'));
      return;
    }
    if (handleRead(req, res, url) || (await handlePost(req, res, url))) return;
    send(
      res,
      404,
      status(404, 'NotFound', `the double does not serve ${req.method ?? ''} ${url.pathname}`),
    );
  }

  const server: Server = createServer({ key: serverCert.key, cert: serverCert.cert });
  server.on('connection', (s: Socket) => {
    if (apiDown === 'refuse') {
      s.destroy();
      return;
    }
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, status(500, 'InternalError', String(err)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'kube-double-'));
  const kubeconfigPath = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, kubeconfigYaml(url, ca.cert, token), { mode: 0o600 });

  const existing = (r: ResourceName, o: KubeObject) =>
    store.get(keyOf(r, o.metadata.namespace, o.metadata.name));
  const withMeta = (o: KubeObject, prev?: KubeObject): KubeObject => ({
    ...o,
    metadata: {
      uid: prev?.metadata.uid ?? randomUUID(),
      creationTimestamp: prev?.metadata.creationTimestamp ?? new Date().toISOString(),
      ...o.metadata,
    },
  });

  return {
    url,
    kubeconfigPath,
    token,
    caPem: ca.cert,
    requests,
    events,
    tokens,
    accessRules,
    tokenReviews,
    accessReviews,
    holdReviews,
    get apiDown() {
      return apiDown;
    },
    set apiDown(mode: ApiDownMode) {
      apiDown = mode;
      if (mode === 'refuse') for (const s of sockets) s.destroy();
    },
    create(resource, obj) {
      if (existing(resource, obj) !== undefined)
        throw new Error(`${resource} ${obj.metadata.name} exists`);
      return record(resource, 'ADDED', withMeta(obj));
    },
    update(resource, obj) {
      const prev = existing(resource, obj);
      if (prev === undefined) throw new Error(`${resource} ${obj.metadata.name} not found`);
      return record(resource, 'MODIFIED', withMeta(obj, prev));
    },
    apply(resource, obj) {
      const prev = existing(resource, obj);
      return record(resource, prev === undefined ? 'ADDED' : 'MODIFIED', withMeta(obj, prev));
    },
    remove(resource, namespace, name) {
      const prev = store.get(keyOf(resource, namespace, name));
      if (prev === undefined) throw new Error(`${resource} ${name} not found`);
      record(resource, 'DELETED', prev);
    },
    get: (resource, namespace, name) =>
      structuredClone(store.get(keyOf(resource, namespace, name))),
    get resourceVersion() {
      return rv;
    },
    compact() {
      compactedBefore = rv;
      history.length = 0;
    },
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    get watchCount() {
      return watchers.size;
    },
    async close() {
      for (const held of holds.values()) for (const answer of held.splice(0)) answer(503);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function kubeconfigYaml(server: string, caPem: string, token: string): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'double',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: 'double', user: { token } }],
    contexts: [
      { name: 'double', context: { cluster: 'double', user: 'double', namespace: 'default' } },
    ],
    'current-context': 'double',
  });
}
