/**
 * GNU tar's diagnostics (with LC_ALL=C). Exit 1 means "some files differ"
 * (changed, shrank or vanished while read): the archive is complete but not
 * a consistent snapshot. Exit 2 is fatal. Names are quoted with tar's
 * default `--quoting-style=escape` (C escapes, octal for other bytes).
 */
const changedLine = /^tar: (.+): (?:file changed as we read it|File removed before we read it|File shrank by \d+ bytes; padding with zeros|Cannot stat: No such file or directory)$/;

/** Archive member names tar reported as changed. */
export function parseChangedMembers(stderr: string): string[] {
  const out: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = changedLine.exec(line);
    if (m?.[1] !== undefined) out.push(unescapeTarName(m[1]));
  }
  return out;
}

const simple: Readonly<Record<string, number>> = { n: 10, t: 9, r: 13, f: 12, v: 11, b: 8, a: 7, '\\': 92, '?': 63, ' ': 32 };

/** Reverses `--quoting-style=escape`: `\303\251` → é, `\\` → `\`. */
export function unescapeTarName(quoted: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < quoted.length; i++) {
    const c = quoted.charAt(i);
    const oct = c === '\\' ? /^[0-7]{3}/.exec(quoted.slice(i + 1)) : null;
    const esc = c === '\\' ? simple[quoted.charAt(i + 1)] : undefined;
    if (oct !== null) {
      bytes.push(parseInt(oct[0], 8));
      i += 3;
    } else if (esc !== undefined) {
      bytes.push(esc);
      i += 1;
    } else bytes.push(...Buffer.from(c));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** tar's closing lines, which say only that it stopped: "Exiting with failure status ...", "Error is not recoverable: exiting now". */
const closingLine = /^tar: (?:Exiting with failure status|Error is not recoverable)/;

/** The last meaningful stderr line, for a job's error message. */
export function lastTarError(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !closingLine.test(l));
  return (lines.at(-1) ?? 'tar failed without a message').slice(0, 300);
}

/**
 * tar stopped because the archive's filesystem is full. GNU tar says "Cannot
 * write: No space left on device" only when not one byte of a record fitted;
 * a record cut short says "Wrote only 4096 of 10240 bytes" (seen on a full
 * tmpfs), and a quota says "Disk quota exceeded".
 */
export function tarRanOutOfSpace(stderr: string): boolean {
  return /No space left on device|Disk quota exceeded|: Wrote only \d+ of \d+ bytes/.test(stderr);
}
