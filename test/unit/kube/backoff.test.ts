import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/kube/backoff.js';

describe('backoffDelay', () => {
  it.each([
    [1, 1, 500],
    [2, 1, 1000],
    [3, 1, 2000],
    [7, 1, 30_000],
    [50, 1, 30_000],
    [1, 0, 250],
    [50, 0, 15_000],
  ])('attempt %i with random %f waits %i ms', (attempt, random, expected) => {
    expect(backoffDelay(attempt, { initialMs: 500, maxMs: 30_000 }, () => random)).toBe(expected);
  });
});
