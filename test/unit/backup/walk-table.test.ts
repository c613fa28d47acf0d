import { describe, expect, it } from 'vitest';
import { WalkTable } from '../../../src/backup/walk-table.js';
import type { WalkEntry } from '../../../src/backup/walk.js';

describe('WalkTable', () => {
  it('gives back every entry with its position, in insertion order, past its initial capacity', () => {
    const table = new WalkTable();
    const kinds: WalkEntry['type'][] = ['directory', 'file', 'symlink', 'link', 'other', 'socket'];
    const want: [string, WalkEntry][] = [];
    for (let i = 0; i < 1000; i++) {
      const e = {
        type: kinds[i % kinds.length] ?? 'file',
        size: i * 4097,
        mtimeMs: 1.7e12 + i + 0.25,
      };
      table.add(`d/${i}`, e);
      want.push([`d/${i}`, { ...e, index: i }]);
    }
    expect(table.size).toBe(1000);
    expect(table.get('d/999')).toEqual({
      type: 'link',
      size: 999 * 4097,
      mtimeMs: 1.7e12 + 999.25,
      index: 999,
    });
    expect(table.get('d/1000')).toBeUndefined();
    expect([...table]).toEqual(want);
  });

  it('finds a path by its expected position, and by name when the order diverges (the source changed)', () => {
    const table = new WalkTable();
    for (let i = 0; i < 10; i++) table.add(`f${i}`, { type: 'file', size: i, mtimeMs: 0 });
    // In order: each hint is right.
    for (let i = 0; i < 10; i++) expect(table.get(`f${i}`, i)?.index).toBe(i);
    // A wrong or out-of-range hint still finds the entry, and misses stay misses.
    expect(table.get('f7', 2)?.index).toBe(7);
    expect(table.get('f3', 99)?.size).toBe(3);
    expect(table.get('new', 4)).toBeUndefined();
    // Entries added after the map was built are found by name too.
    table.add('late', { type: 'directory', size: 0, mtimeMs: 1 });
    expect(table.get('late', 0)).toEqual({ type: 'directory', size: 0, mtimeMs: 1, index: 10 });
  });
});
