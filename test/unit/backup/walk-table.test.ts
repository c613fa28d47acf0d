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
});
