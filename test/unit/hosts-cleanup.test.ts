import { describe, expect, it } from 'vitest';
import { removeMarkedLines } from '../../src/hosts/cleanup.js';

const ours = '10.96.0.5 image-registry.image-registry-system.svc image-registry.image-registry-system.svc.cluster.local # node-ca';

describe('removeMarkedLines', () => {
  it.each([
    ['only our line', `${ours}\n`, ''],
    ['our line among others', `127.0.0.1 localhost\n${ours}\n::1 localhost\n`, '127.0.0.1 localhost\n::1 localhost\n'],
    ['comments, blank lines and order', `# admin\n\n${ours}\n10.0.0.9 db # keep\n\n`, '# admin\n\n10.0.0.9 db # keep\n\n'],
    // The agent appends its line after a file without a final newline and keeps it missing, so removal gives the original back.
    ['our line last without a final newline', `127.0.0.1 localhost\n${ours}`, '127.0.0.1 localhost'],
    ['a foreign last line without a final newline', `${ours}\n10.0.0.9 db`, '10.0.0.9 db'],
    ['CRLF line endings', `a\r\n${ours}\r\nb\r\n`, 'a\r\nb\r\n'],
    ['trailing blanks after the marker', `${ours}  \n`, ''],
    ['dual-stack lines', `${ours}\nfd00::5 image-registry.image-registry-system.svc # node-ca\n`, ''],
    ['an empty file', '', ''],
  ])('removes the agent lines and keeps every other byte: %s', (_name, input, expected) => {
    expect(removeMarkedLines(input).text).toBe(expected);
  });

  it.each([
    ['a marker in the middle of a line', '10.0.0.9 db # node-ca was here\n'],
    ['another tool marker', '10.0.0.9 db # node-ca-old\n'],
    ['a host named like the marker', '10.0.0.9 x#node-ca\n'],
  ])('keeps lines that are not the agent lines: %s', (_name, input) => {
    expect(removeMarkedLines(input)).toEqual({ text: input, removed: [] });
  });

  it('reports the removed lines without their line endings', () => {
    expect(removeMarkedLines(`a\n${ours}\r\n`).removed).toEqual([ours]);
  });
});

describe('removeMarkedLines in a CRLF file', () => {
  it.each([
    ['our CRLF line between others', `a\r\n${ours}\r\nb\r\n`, 'a\r\nb\r\n', 1],
    ['our CRLF line first', `${ours}\r\na\r\n`, 'a\r\n', 1],
    ['only our CRLF lines', `${ours}\r\n${ours}\r\n`, '', 2],
    // The agent appends `\r\n<line>` to `a\r\nb`: removal must give `a\r\nb` back, not `a\r\nb\r`.
    ['our line last without a final newline', `a\r\nb\r\n${ours}`, 'a\r\nb', 1],
    ['foreign lone CRs kept as they are', `a\rb\r\n${ours}\r\nc\r`, 'a\rb\r\nc\r', 1],
  ])('removes the agent lines with their CRLF and leaves no stray CR: %s', (_name, input, expected, count) => {
    expect(removeMarkedLines(input)).toEqual({ text: expected, removed: Array<string>(count).fill(ours) });
  });
});
