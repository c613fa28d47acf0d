import { describe, expect, it } from 'vitest';
import { ArchiveCheck, relativeOf, verifyBackup } from '../../../src/backup/verify.js';
import type { SourceWalk, WalkEntry } from '../../../src/backup/walk.js';

function walk(list: [string, Omit<WalkEntry, 'index'>][], expectedArchiveBytes = 20480): SourceWalk {
  const entries = new Map(list.map(([rel, e], index) => [rel, { ...e, index }]));
  const files = list.filter(([, e]) => e.type === 'file');
  return {
    entries,
    files: files.length,
    bytes: files.reduce((n, [, e]) => n + e.size, 0),
    diskBytes: 0,
    expectedArchiveBytes,
    linkTargets: new Set(),
    manifestBytes: 0,
  };
}

const tree = walk([
  ['', { type: 'directory', size: 0, mtimeMs: 1 }],
  ['a', { type: 'file', size: 5, mtimeMs: 1 }],
  ['d', { type: 'directory', size: 0, mtimeMs: 1 }],
  ['d/h', { type: 'link', size: 0, mtimeMs: 1 }],
]);

function checkOf(members: { name: string; type: string; size: number }[]): ArchiveCheck {
  const check = new ArchiveCheck(tree, 'cpaas/minio');
  for (const m of members) check.observe(m);
  return check;
}

const full = [
  { name: 'cpaas/minio/', type: 'directory', size: 0 },
  { name: 'cpaas/minio/a', type: 'file', size: 5 },
  { name: 'cpaas/minio/d/', type: 'directory', size: 0 },
  { name: 'cpaas/minio/d/h', type: 'link', size: 0 },
];

describe('backup verification', () => {
  it('maps member names to source-relative paths', () => {
    expect(relativeOf('cpaas/minio', 'cpaas/minio/')).toBe('');
    expect(relativeOf('cpaas/minio', 'cpaas/minio/x/y/')).toBe('x/y');
    expect(relativeOf('cpaas/minio', 'cpaas/minio2/x')).toBeUndefined();
    expect(relativeOf('cpaas/minio', 'cpaas/minio')).toBe('');
    expect(relativeOf('cpaas/minio', 'cpaas/minio//')).toBe('');
    expect(relativeOf('cpaas/minio', 'cpaas/minio/a')).toBe('a');
    expect(relativeOf('cpaas/minio', 'cpaas/minio/a b/é//')).toBe('a b/é');
    expect(relativeOf('cpaas/minio', 'cpaas/mini')).toBeUndefined();
    expect(relativeOf('cpaas/minio', 'other/cpaas/minio/a')).toBeUndefined();
  });

  it('counts a member the walk did not see as added (created after it), not as a mismatch', () => {
    const check = checkOf([...full.slice(0, 2), { name: 'cpaas/minio/new', type: 'file', size: 3 }, ...full.slice(2)]);
    expect(check.added).toEqual(['new']);
    expect(check.mismatched).toEqual([]);
    // The archive has come past every walked entry.
    expect(check.passed).toBe(4);
    const strict = verifyBackup({ before: tree, check, archiveBytes: 30720, changed: check.added, allowChanges: false });
    expect(strict.failure?.code).toBe('SOURCE_CHANGED');
    const allowed = verifyBackup({ before: tree, check, archiveBytes: 30720, changed: check.added, allowChanges: true });
    expect(allowed.failure).toBeUndefined();
    expect(allowed.verification).toMatchObject({ matched: false, changedDuringBackup: ['new'] });
    // The source directory itself (its mtime moves when a file is created) reads as `.`.
    const withRoot = verifyBackup({ before: tree, check, archiveBytes: 30720, changed: ['', ...check.added], allowChanges: true });
    expect(withRoot.verification.changedDuringBackup).toEqual(['.', 'new']);
    // A member outside the source is still a mismatch.
    expect(checkOf([...full, { name: 'elsewhere/x', type: 'file', size: 1 }]).mismatched).toEqual(['elsewhere/x']);
  });

  it('matches when every member agrees with the walk and the size is exact', () => {
    const out = verifyBackup({ before: tree, check: checkOf(full), archiveBytes: 20480, changed: [], allowChanges: false });
    expect(out.failure).toBeUndefined();
    expect(out.verification).toMatchObject({ matched: true, archiveFiles: 1, archiveBytes: 5, sourceFiles: 1, sourceBytes: 5 });
  });

  it('fails VERIFY_FAILED when the archive size differs from the prediction', () => {
    const out = verifyBackup({ before: tree, check: checkOf(full), archiveBytes: 30720, changed: [], allowChanges: false });
    expect(out.failure?.code).toBe('VERIFY_FAILED');
    expect(out.verification.matched).toBe(false);
  });

  it('fails VERIFY_FAILED on a missing member or a wrong size that no change explains', () => {
    const missing = verifyBackup({ before: tree, check: checkOf(full.slice(0, 3)), archiveBytes: 20480, changed: [], allowChanges: false });
    expect(missing.failure).toMatchObject({ code: 'VERIFY_FAILED' });
    expect(missing.failure?.message).toContain('d/h');
    const resized = full.map((m) => (m.type === 'file' ? { ...m, size: 6 } : m));
    expect(verifyBackup({ before: tree, check: checkOf(resized), archiveBytes: 20480, changed: [], allowChanges: false }).failure?.code).toBe('VERIFY_FAILED');
  });

  it('fails SOURCE_CHANGED on changes, and succeeds with them listed when allowChanges', () => {
    const resized = full.map((m) => (m.type === 'file' ? { ...m, size: 6 } : m));
    const strict = verifyBackup({ before: tree, check: checkOf(resized), archiveBytes: 30720, changed: ['a'], allowChanges: false });
    expect(strict.failure?.code).toBe('SOURCE_CHANGED');
    const allowed = verifyBackup({ before: tree, check: checkOf(resized), archiveBytes: 30720, changed: ['a', 'a'], allowChanges: true });
    expect(allowed.failure).toBeUndefined();
    expect(allowed.verification).toMatchObject({ matched: false, changedDuringBackup: ['a'] });
  });

});
