/**
 * `sha256sum` line format. GNU coreutils escapes a name holding a backslash
 * or a newline by starting the line with `\` and writing `\\` and `\n`, so
 * `sha256sum -c` reads every name back exactly.
 */
export function sha256sumLine(hex: string, name: string): string {
  if (!/[\\\n\r]/.test(name)) return `${hex}  ${name}\n`;
  const escaped = name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `\\${hex}  ${escaped}\n`;
}
