import type { WalkEntry } from './walk.js';

/** What verification needs of a walk's entries: a Map<string, WalkEntry> has it too. */
export interface WalkEntries {
  readonly size: number;
  /**
   * The entry of a path. `hint` is the position the caller expects it at
   * (the one after its last match: the archive and a second walk come in the
   * first walk's order), which spares a lookup.
   */
  get(rel: string, hint?: number): WalkEntry | undefined;
  [Symbol.iterator](): Iterator<[string, WalkEntry]>;
}

const types: readonly WalkEntry['type'][] = [
  'file',
  'directory',
  'symlink',
  'link',
  'other',
  'socket',
];
const codes = new Map(types.map((t, i) => [t, i]));

/**
 * A walk's entries in columns: paths in walk order, and typed arrays for
 * type, size and mtime. Readers come in the same order (tar archives in
 * readdir order, depth first, as the walk goes), so a lookup is one string
 * comparison at the expected position; a map from path to position is
 * built only when a reader's order diverges (the source changed). At
 * 200,000 entries the columns hold about a quarter of the heap a Map of
 * objects did, with 200,000 fewer objects for a mark-compact to visit.
 */
export class WalkTable implements WalkEntries {
  private readonly names: string[] = [];
  private positions: Map<string, number> | undefined;
  private typeCodes = new Uint8Array(256);
  private sizes = new Float64Array(256);
  private mtimes = new Float64Array(256);

  get size(): number {
    return this.names.length;
  }

  /** Adds an entry at the next position (its `index`). */
  add(rel: string, e: Omit<WalkEntry, 'index'>): void {
    const i = this.names.length;
    if (i === this.sizes.length) this.grow();
    this.names.push(rel);
    this.positions?.set(rel, i);
    this.typeCodes[i] = codes.get(e.type) ?? 0;
    this.sizes[i] = e.size;
    this.mtimes[i] = e.mtimeMs;
  }

  get(rel: string, hint?: number): WalkEntry | undefined {
    if (hint !== undefined && this.names[hint] === rel) return this.at(hint);
    const i = this.lookup().get(rel);
    return i === undefined ? undefined : this.at(i);
  }

  *[Symbol.iterator](): Iterator<[string, WalkEntry]> {
    for (let i = 0; i < this.names.length; i++) yield [this.names[i] ?? '', this.at(i)];
  }

  private lookup(): Map<string, number> {
    if (this.positions === undefined) {
      this.positions = new Map();
      for (let i = 0; i < this.names.length; i++) this.positions.set(this.names[i] ?? '', i);
    }
    return this.positions;
  }

  private at(index: number): WalkEntry {
    return {
      type: types[this.typeCodes[index] ?? 0] ?? 'other',
      size: this.sizes[index] ?? 0,
      mtimeMs: this.mtimes[index] ?? 0,
      index,
    };
  }

  private grow(): void {
    const n = this.sizes.length * 2;
    const t = new Uint8Array(n);
    t.set(this.typeCodes);
    this.typeCodes = t;
    const s = new Float64Array(n);
    s.set(this.sizes);
    this.sizes = s;
    const m = new Float64Array(n);
    m.set(this.mtimes);
    this.mtimes = m;
  }
}
