// The first walk's helper thread (walk.ts, walkSource): while the main
// thread walks one half of a wide directory, the helper lstats the whole
// subtrees of the other half, in the order GNU tar goes through them. This
// module is both the helper's entry point and what walk.ts starts it with.
// It imports Node modules only: the helper thread loads this very file (its
// .ts source under the tests, type-stripped by Node).
import { lstatSync, opendirSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

/** What a walk keeps of an lstat (fs.Stats has these fields too). */
export interface StatFields {
  mode: number;
  size: number;
  mtimeMs: number;
  nlink: number;
  dev: number;
  ino: number;
  blocks: number;
}

/** Numbers per entry in a batch's column array, in StatFields order. */
const fields = 7;

/**
 * Names in the directory's own order, as GNU tar's savedir reads them
 * (`--sort=none`); fs.readdir would sort them (libuv's scandir).
 */
export function readNames(dir: string): string[] {
  const names: string[] = [];
  let d;
  try {
    d = opendirSync(dir, { bufferSize: 1024 });
  } catch (err) {
    // Removed or replaced since its lstat (a live MinIO): nothing in it; the other walk or tar tells the change.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return names;
    throw err;
  }
  try {
    for (let e = d.readSync(); e !== null; e = d.readSync()) names.push(e.name);
  } finally {
    d.closeSync();
  }
  return names;
}

/** Entries of some subtrees, in walk order: paths relative to the source, and their lstat fields. */
export class ScanBatch {
  // Plain fields, no parameter properties: the helper thread runs this file type-stripped.
  readonly rels: readonly string[];
  private readonly columns: Float64Array;

  constructor(rels: readonly string[], columns: Float64Array) {
    this.rels = rels;
    this.columns = columns;
  }

  /** Entry `i`'s fields, written into `into` (one object reused: nothing allocated per entry). */
  stat(i: number, into: StatFields): StatFields {
    const c = this.columns;
    const at = i * fields;
    into.mode = c[at] ?? 0;
    into.size = c[at + 1] ?? 0;
    into.mtimeMs = c[at + 2] ?? 0;
    into.nlink = c[at + 3] ?? 0;
    into.dev = c[at + 4] ?? 0;
    into.ino = c[at + 5] ?? 0;
    into.blocks = c[at + 6] ?? 0;
    return into;
  }
}

interface ScanRequest {
  readonly id: number;
  readonly root: string;
  /** The directory the names are in, relative to the root ('' is the root). */
  readonly parent: string;
  readonly names: readonly string[];
}

type ScanReply =
  | { readonly id: number; readonly rels: string[]; readonly columns: Float64Array }
  | { readonly id: number; readonly error: { readonly message: string; readonly code?: string } };

/** A scan's growing answer: paths, and StatFields per path in `data`. */
interface Collected {
  readonly rels: string[];
  data: Float64Array;
}

/** Walks the named entries of `parent` and everything under them, depth first, in readdir order. */
function scan(root: string, parent: string, names: readonly string[], out: Collected): void {
  const dir = parent === '' ? root : `${root}/${parent}`;
  for (const name of names) {
    const rel = parent === '' ? name : `${parent}/${name}`;
    // A name removed since readdir (a live MinIO) is skipped, as on the main thread.
    const st = lstatSync(`${dir}/${name}`, { throwIfNoEntry: false });
    if (st === undefined) continue;
    const at = out.rels.length * fields;
    if (at + fields > out.data.length) {
      const grown = new Float64Array(out.data.length * 2);
      grown.set(out.data);
      out.data = grown;
    }
    const d = out.data;
    d[at] = st.mode;
    d[at + 1] = st.size;
    d[at + 2] = st.mtimeMs;
    d[at + 3] = st.nlink;
    d[at + 4] = st.dev;
    d[at + 5] = st.ino;
    d[at + 6] = st.blocks;
    out.rels.push(rel);
    if (st.isDirectory()) scan(root, rel, readNames(`${dir}/${name}`), out);
  }
}

function serve(): void {
  const port = parentPort;
  port?.on('message', (req: ScanRequest) => {
    let reply: ScanReply;
    try {
      const out: Collected = { rels: [], data: new Float64Array(fields * 1024) };
      scan(req.root, req.parent, req.names, out);
      reply = { id: req.id, rels: out.rels, columns: out.data.subarray(0, out.rels.length * fields) };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      reply = { id: req.id, error: { message: e.message, ...(e.code === undefined ? {} : { code: e.code }) } };
    }
    if ('columns' in reply) port.postMessage(reply, [reply.columns.buffer as ArrayBuffer]);
    else port.postMessage(reply);
  });
}

const role = 'node-ca-walk-scan';

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === role) serve();

/**
 * The helper thread itself failed (it ran out of heap, or died), as opposed
 * to an lstat or readdir failing on it: the caller walks those names itself.
 */
export class HelperLost extends Error {
  override readonly name = 'HelperLost';
}

/**
 * The main thread's end: one helper thread, started at the first request
 * and ended by `close`. One request at a time is what `idle` invites.
 */
export class ScanHelper {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (b: ScanBatch) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private lost: HelperLost | undefined;
  /** Entries the helper has walked so far. */
  entries = 0;

  /** The thread's old-generation limit, MiB. A batch of 200,000 entries needs about 30 (measured: 24 is too little); past the limit the walk goes on without the helper, and the agent stays well inside the DaemonSet's 512 MiB. */
  private readonly heapMiB: number;

  // A plain field, no parameter property: the helper thread runs this file type-stripped.
  constructor(heapMiB = 128) {
    this.heapMiB = heapMiB;
  }

  /** No request is outstanding. */
  get idle(): boolean {
    return this.pending.size === 0;
  }

  /**
   * The entries under `root/parent/<name>` for each name, in walk order.
   * Rejects with the lstat's or readdir's error, or HelperLost.
   */
  scan(root: string, parent: string, names: readonly string[]): Promise<ScanBatch> {
    if (this.lost !== undefined) return Promise.reject(this.lost);
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, root, parent, names } satisfies ScanRequest);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.lost ??= new HelperLost('the walk is over');
    if (w !== undefined) await w.terminate();
  }

  private start(): Worker {
    const w = new Worker(new URL(import.meta.url), {
      workerData: { role },
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: this.heapMiB, stackSizeMb: 4 },
    });
    w.on('message', (reply: ScanReply) => {
      const p = this.pending.get(reply.id);
      if (p === undefined) return;
      this.pending.delete(reply.id);
      if ('error' in reply) p.reject(Object.assign(new Error(reply.error.message), reply.error.code === undefined ? {} : { code: reply.error.code }));
      else {
        this.entries += reply.rels.length;
        p.resolve(new ScanBatch(reply.rels, reply.columns));
      }
    });
    const fail = (why: string) => {
      this.lost ??= new HelperLost(`the walk's helper thread ${why}`);
      for (const p of this.pending.values()) p.reject(this.lost);
      this.pending.clear();
    };
    w.on('error', (err: Error) => {
      fail(`failed: ${err.message}`);
    });
    w.on('exit', (code) => {
      fail(`ended (exit ${code})`);
    });
    return w;
  }
}
