import { describe, expect, it } from 'vitest';
import { isAlive, killPid, parsePid } from '../support/pids.js';

// The helpers stand between a pid file and kill(2): a wrong answer here
// signals the test runner's own process group (kill(0)) or every process (kill(-1)).
describe('test pid helpers', () => {
  it('reads only a whole pid above 1', () => {
    expect(parsePid('4242\n')).toBe(4242);
    for (const text of ['', '\n', '0', '1', '-1', '12a', '1.5', ' ', '99999999999999999999']) expect(parsePid(text), JSON.stringify(text)).toBeUndefined();
  });

  it('refuses to signal 0, 1, -1 or NaN, and reports a gone process as not alive', () => {
    for (const pid of [0, 1, -1, Number.NaN]) {
      expect(() => {
        killPid(pid);
      }).toThrow(/refusing to signal/);
      expect(() => isAlive(pid)).toThrow(/refusing to signal/);
    }
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(2 ** 22 + 1)).toBe(false); // above pid_max's ceiling: never a process
    expect(() => {
      killPid(2 ** 22 + 1);
    }).not.toThrow();
  });
});
