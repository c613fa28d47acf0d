import { describe, expect, it } from 'vitest';
import { AgentCallError } from '../../../src/fleet/agent-client.js';
import { failedNodes, fanOut, NodeOperationFailed } from '../../../src/fleet/fan-out.js';

const items = ['a', 'b', 'c', 'd'].map((node) => ({ node }));

describe('fanOut', () => {
  it('keeps input order and turns a throw into that node’s failure only', async () => {
    const results = await fanOut(items, async ({ node }) => {
      if (node === 'b') throw new AgentCallError('FORBIDDEN', 'HTTP 403 FORBIDDEN: no', 403);
      if (node === 'c')
        throw new NodeOperationFailed(
          { code: 'SOURCE_CHANGED', message: 'changed' },
          `${node}-partial`,
        );
      await new Promise((r) => setTimeout(r, node === 'a' ? 20 : 0));
      return node.toUpperCase();
    });
    expect(results).toEqual([
      { node: 'a', ok: true, value: 'A' },
      {
        node: 'b',
        ok: false,
        error: { code: 'FORBIDDEN', message: 'HTTP 403 FORBIDDEN: no', status: 403 },
      },
      {
        node: 'c',
        ok: false,
        error: { code: 'SOURCE_CHANGED', message: 'changed' },
        value: 'c-partial',
      },
      { node: 'd', ok: true, value: 'D' },
    ]);
    expect(failedNodes(results)).toEqual(['b', 'c']);
  });

  it.each([
    [undefined, 4],
    [2, 2],
    [1, 1],
  ])('with concurrency %s runs at most %i at a time', async (concurrency, expected) => {
    let running = 0;
    let peak = 0;
    await fanOut(
      items,
      async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running -= 1;
      },
      { concurrency },
    );
    expect(peak).toBe(expected);
  });
});
