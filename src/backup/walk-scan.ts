// The first walk's helper thread (walk.ts, walkSource): while the main
// thread walks one half of a wide directory, the helper lstats the whole
// subtrees of the other half's names, from the front, in the order GNU tar
// goes through them, and sends them in batches as it goes; the main thread,
// done with its half, claims the far names that are left from the back
// (SplitScan). This module is both the helper's entry point and what
// walk.ts starts it with.
// It imports Node modules only: the helper thread loads this very file (its
// .ts source under the tests, type-stripped by Node).
import { isUtf8 } from 'node:buffer';
import { lstatSync, opendirSync, readdirSync } from 'node:fs';
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
  // U+FFFD is what UTF-8 decoding makes of bytes that are not UTF-8; a rare real one is checked.
  if (names.some((n) => n.includes('\uFFFD'))) refuseNonUtf8(dir);
  return names;
}

/**
 * A name that is not UTF-8 cannot be walked, compared or listed in the
 * manifest by name (Node decodes it lossily), so the backup is refused with
 * the name, bytes escaped, rather than reported as a change. MinIO never
 * writes such names (object names are UTF-8); something else put it there.
 */
function refuseNonUtf8(dir: string): void {
  const bad = readdirSync(dir, { encoding: 'buffer' }).find((raw) => !isUtf8(raw));
  if (bad === undefined) return;
  const shown = [...bad].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
  const err: NodeJS.ErrnoException = new Error(
    `${dir}/${shown}: a file name that is not UTF-8; node-ca cannot verify or list it (MinIO never writes such names): rename or remove it, or back this source up with GNU tar by hand`,
  );
  err.code = 'EILSEQ';
  throw err;
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

/** A batch being filled: paths, and their StatFields in columns (no object per entry). */
export class BatchBuilder {
  readonly rels: string[] = [];
  private data = new Float64Array(fields * 1024);

  get size(): number {
    return this.rels.length;
  }

  add(rel: string, st: StatFields): void {
    const at = this.rels.length * fields;
    if (at + fields > this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    const d = this.data;
    d[at] = st.mode;
    d[at + 1] = st.size;
    d[at + 2] = st.mtimeMs;
    d[at + 3] = st.nlink;
    d[at + 4] = st.dev;
    d[at + 5] = st.ino;
    d[at + 6] = st.blocks;
    this.rels.push(rel);
  }

  /** The columns in use (a view: the batch keeps its buffer, which the helper transfers). */
  columns(): Float64Array {
    return this.data.subarray(0, this.rels.length * fields);
  }

  build(): ScanBatch {
    return new ScanBatch(this.rels, this.columns());
  }
}

/** Claims on the names of a split: who walks name `i` (the first to claim it). */
const free = 0;
const byHelper = 1;
const byMain = 2;

interface ScanRequest {
  readonly id: number;
  readonly root: string;
  /** The directory the names are in, relative to the root ('' is the root). */
  readonly parent: string;
  readonly names: readonly string[];
  /** One claim per name, shared with the main thread (SharedArrayBuffer). */
  readonly claims: Int32Array;
  /** The helper sends what it has after a name once it holds this many entries. */
  readonly flushAt: number;
}

type ScanReply =
  | {
      readonly id: number;
      readonly rels: string[];
      readonly columns: Float64Array;
      /** Names [0, upTo) of the request are in this and earlier batches. */
      readonly upTo: number;
      /** The helper is done with the request: it met a name the main thread claimed, or the end. */
      readonly last: boolean;
    }
  | { readonly id: number; readonly error: { readonly message: string; readonly code?: string } };

/** Walks the named entries of `parent` and everything under them, depth first, in readdir order. */
function scan(root: string, parent: string, names: readonly string[], out: BatchBuilder): void {
  const dir = parent === '' ? root : `${root}/${parent}`;
  for (const name of names) {
    const rel = parent === '' ? name : `${parent}/${name}`;
    // A name removed since readdir (a live MinIO) is skipped, as on the main thread.
    const st = lstatSync(`${dir}/${name}`, { throwIfNoEntry: false });
    if (st === undefined) continue;
    out.add(rel, st);
    if (st.isDirectory()) scan(root, rel, readNames(`${dir}/${name}`), out);
  }
}

function serve(): void {
  const port = parentPort;
  port?.on('message', (req: ScanRequest) => {
    const send = (out: BatchBuilder, upTo: number, last: boolean) => {
      const columns = out.columns();
      port.postMessage({ id: req.id, rels: out.rels, columns, upTo, last } satisfies ScanReply, [columns.buffer as ArrayBuffer]);
    };
    let out = new BatchBuilder();
    let i = 0;
    try {
      // Names from the front, each claimed first: the main thread claims from the back.
      for (; i < req.names.length && Atomics.compareExchange(req.claims, i, free, byHelper) === free; i++) {
        scan(req.root, req.parent, [req.names[i] ?? ''], out);
        if (out.size >= req.flushAt) {
          send(out, i + 1, false);
          out = new BatchBuilder();
        }
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      port.postMessage({ id: req.id, error: { message: e.message, ...(e.code === undefined ? {} : { code: e.code }) } } satisfies ScanReply);
      return;
    }
    send(out, i, true);
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
 * One wide directory's far names, shared by the two threads: the helper
 * walks them from the front and sends its entries in batches as it goes;
 * the main thread, once done with the near half, records those batches and,
 * while none is waiting, claims names from the back and walks them itself,
 * until the two ends meet. Neither thread then waits long for the other.
 */
export class SplitScan {
  readonly names: readonly string[];
  /** Names [0, delivered) are in the batches received. */
  delivered = 0;
  /** The helper stopped before its end: names [delivered, back) are the main thread's to walk. */
  lost: HelperLost | undefined;
  private readonly claims: Int32Array;
  /** Names [back, names.length) are claimed by the main thread. */
  private back: number;
  private readonly ready: ScanBatch[] = [];
  private done = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(names: readonly string[]) {
    this.names = names;
    this.claims = new Int32Array(new SharedArrayBuffer(Math.max(1, names.length) * Int32Array.BYTES_PER_ELEMENT));
    this.back = names.length;
  }

  /** The helper has sent its last batch, failed, or is gone. */
  get finished(): boolean {
    return this.done;
  }

  /** The first name the main thread claimed (names.length when none). */
  get stolenFrom(): number {
    return this.back;
  }

  /** The next batch received, in order; throws the helper's lstat or readdir error. */
  take(): ScanBatch | undefined {
    if (this.error !== undefined) throw this.error;
    return this.ready.shift();
  }

  /** Claims the last unclaimed name for the main thread: its index, or undefined once the helper has it. */
  steal(): number | undefined {
    const j = this.back - 1;
    if (j < 0 || this.lost !== undefined || Atomics.compareExchange(this.claims, j, free, byMain) !== free) return undefined;
    this.back = j;
    return j;
  }

  /** Resolves when a batch arrives or the helper finishes. */
  changed(): Promise<void> {
    if (this.done || this.ready.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** The request as the helper gets it. */
  request(id: number, root: string, parent: string, flushAt: number): ScanRequest {
    return { id, root, parent, names: this.names, claims: this.claims, flushAt };
  }

  receive(batch: ScanBatch, upTo: number, last: boolean): void {
    if (batch.rels.length > 0) this.ready.push(batch);
    this.delivered = upTo;
    if (last) this.done = true;
    this.notify();
  }

  fail(err: Error): void {
    if (err instanceof HelperLost) this.lost = err;
    else this.error = err;
    this.done = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/**
 * The main thread's end: one helper thread, started at the first split and
 * ended by `close`. One split at a time is what `idle` invites.
 */
export class ScanHelper {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, SplitScan>();
  private nextId = 0;
  private lost: HelperLost | undefined;
  /** Entries the helper has walked so far. */
  entries = 0;

  /** The thread's old-generation limit, MiB. One name's subtree is one batch: 200,000 entries need about 30 (measured: 24 is too little); past the limit the walk goes on without the helper, and the agent stays well inside the DaemonSet's 512 MiB. */
  private readonly heapMiB: number;
  /** Entries per batch the helper sends (at the end of a name, so one big subtree is one batch). */
  private readonly flushAt: number;

  // Plain fields, no parameter properties: the helper thread runs this file type-stripped.
  constructor(options: { heapMiB?: number; flushAt?: number } = {}) {
    this.heapMiB = options.heapMiB ?? 128;
    this.flushAt = options.flushAt ?? 2048;
  }

  /** No split is outstanding. */
  get idle(): boolean {
    return this.pending.size === 0;
  }

  /**
   * Starts the helper on `root/parent/<name>` for each name, and their
   * subtrees, from the front. A lost helper's split is finished at once.
   */
  split(root: string, parent: string, names: readonly string[]): SplitScan {
    const split = new SplitScan(names);
    if (this.lost !== undefined) {
      split.fail(this.lost);
      return split;
    }
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    this.pending.set(id, split);
    worker.postMessage(split.request(id, root, parent, this.flushAt));
    return split;
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
      const split = this.pending.get(reply.id);
      if (split === undefined) return;
      if ('error' in reply) {
        this.pending.delete(reply.id);
        split.fail(Object.assign(new Error(reply.error.message), reply.error.code === undefined ? {} : { code: reply.error.code }));
        return;
      }
      if (reply.last) this.pending.delete(reply.id);
      this.entries += reply.rels.length;
      split.receive(new ScanBatch(reply.rels, reply.columns), reply.upTo, reply.last);
    });
    const fail = (why: string) => {
      this.lost ??= new HelperLost(`the walk's helper thread ${why}`);
      for (const split of this.pending.values()) split.fail(this.lost);
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
