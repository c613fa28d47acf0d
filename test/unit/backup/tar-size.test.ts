import { describe, expect, it } from 'vitest';
import { archiveBytes, memberBytes } from '../../../src/backup/tar-size.js';

describe('tar size prediction', () => {
  it.each([
    [{ name: 'a/b', type: 'file', size: 0 }, 512],
    [{ name: 'a/b', type: 'file', size: 1 }, 1024],
    [{ name: 'a/b', type: 'file', size: 512 }, 1024],
    [{ name: 'a/b', type: 'file', size: 513 }, 1536],
    [{ name: 'a/', type: 'directory', size: 4096 }, 512],
    [{ name: 'a/l', type: 'symlink', size: 7, linkTarget: 'x' }, 512],
    [{ name: 'a/h', type: 'link', size: 10, linkTarget: 'a/b' }, 512],
  ] as const)('counts %j as %i bytes', (member, bytes) => {
    expect(memberBytes(member)).toBe(bytes);
  });

  it('adds a ././@LongLink member for a name over 100 bytes, its NUL included (100 bytes fill the field)', () => {
    expect(memberBytes({ name: 'x'.repeat(100), type: 'file', size: 0 })).toBe(512);
    expect(memberBytes({ name: `${'x'.repeat(99)}/`, type: 'directory', size: 0 })).toBe(512);
    expect(memberBytes({ name: 'x'.repeat(101), type: 'file', size: 0 })).toBe(512 + 512 + 512);
    expect(memberBytes({ name: `${'x'.repeat(100)}/`, type: 'directory', size: 0 })).toBe(512 + 512 + 512);
    expect(memberBytes({ name: 'x'.repeat(511), type: 'file', size: 0 })).toBe(512 + 512 + 512);
    expect(memberBytes({ name: 'x'.repeat(512), type: 'file', size: 0 })).toBe(512 + 1024 + 512);
  });

  it('counts names in UTF-8 bytes, not characters', () => {
    expect(memberBytes({ name: 'é'.repeat(50), type: 'file', size: 0 })).toBe(512);
    expect(memberBytes({ name: 'é'.repeat(51), type: 'file', size: 0 })).toBe(1536);
  });

  it('adds a long-link member for a link target over 100 bytes', () => {
    expect(memberBytes({ name: 's', type: 'symlink', size: 0, linkTarget: 't'.repeat(100) })).toBe(512);
    expect(memberBytes({ name: 's', type: 'symlink', size: 0, linkTarget: 't'.repeat(101) })).toBe(1536);
  });

  it('adds two end blocks and pads to the 10240-byte record', () => {
    expect(archiveBytes(0)).toBe(10240);
    expect(archiveBytes(9216)).toBe(10240);
    expect(archiveBytes(9217)).toBe(20480);
  });
});
