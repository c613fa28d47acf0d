import { describe, expect, it } from 'vitest';
import {
  agentUrl,
  CONTROL_PLANE_OR_MASTER,
  CONTROL_PLANE_SELECTOR,
  matchAgents,
  MASTER_SELECTOR,
  resolveNodes,
  type AgentPodInfo,
} from '../../../src/fleet/targets.js';

/** A node lister over a fixed label table: "" lists all, "key" means the label exists. */
function lister(nodes: Record<string, string[]>) {
  const calls: string[] = [];
  const list = async (selector: string) => {
    calls.push(selector);
    return Object.entries(nodes)
      .filter(([, labels]) => selector === '' || labels.includes(selector))
      .map(([name]) => name);
  };
  return { list, calls };
}

function pod(over: Partial<AgentPodInfo> & { name: string }): AgentPodInfo {
  return {
    nodeName: undefined,
    podIP: '10.0.0.1',
    ready: true,
    deleting: false,
    apiPort: 9443,
    ...over,
  };
}

describe('resolveNodes', () => {
  it('takes control-plane nodes by default, sorted', async () => {
    const { list, calls } = lister({
      cp2: [CONTROL_PLANE_SELECTOR],
      cp1: [CONTROL_PLANE_SELECTOR],
      w1: [],
    });
    const r = await resolveNodes({ kind: 'control-plane' }, list);
    expect(r).toEqual({ nodes: ['cp1', 'cp2'], selector: CONTROL_PLANE_OR_MASTER, missing: [] });
    expect(calls.sort()).toEqual([CONTROL_PLANE_SELECTOR, MASTER_SELECTOR]);
  });

  it('takes master nodes when no node has the control-plane label', async () => {
    const { list } = lister({ m1: [MASTER_SELECTOR], w1: [] });
    expect(await resolveNodes({ kind: 'control-plane' }, list)).toEqual({
      nodes: ['m1'],
      selector: CONTROL_PLANE_OR_MASTER,
      missing: [],
    });
  });

  it('takes the union of both labels in a half-relabelled cluster, each node once', async () => {
    const { list } = lister({
      cp3: [MASTER_SELECTOR],
      cp1: [CONTROL_PLANE_SELECTOR],
      cp2: [MASTER_SELECTOR, CONTROL_PLANE_SELECTOR],
      w1: [],
    });
    expect((await resolveNodes({ kind: 'control-plane' }, list)).nodes).toEqual([
      'cp1',
      'cp2',
      'cp3',
    ]);
  });

  it('returns no node when neither label exists (the caller fails)', async () => {
    const { list } = lister({ w1: [] });
    expect((await resolveNodes({ kind: 'control-plane' }, list)).nodes).toEqual([]);
  });

  it('lists every node for "all" and an explicit selector as given', async () => {
    const { list } = lister({ b: ['gpu'], a: [] });
    expect((await resolveNodes({ kind: 'all' }, list)).nodes).toEqual(['a', 'b']);
    expect((await resolveNodes({ kind: 'selector', selector: 'gpu' }, list)).nodes).toEqual(['b']);
  });

  it('keeps named nodes in order, deduplicated, and reports those that do not exist', async () => {
    const { list } = lister({ a: [], b: [] });
    expect(await resolveNodes({ kind: 'names', names: ['b', 'zz', 'b'] }, list)).toEqual({
      nodes: ['b', 'zz'],
      selector: 'names b,zz',
      missing: ['zz'],
    });
  });
});

describe('agentUrl', () => {
  it.each([
    [{ podIP: '10.1.2.3', apiPort: 9443 }, 'https://10.1.2.3:9443'],
    [{ podIP: 'fd00::1', apiPort: 9443 }, 'https://[fd00::1]:9443'],
    [{ podIP: undefined, apiPort: 9443 }, undefined],
    [{ podIP: '10.1.2.3', apiPort: undefined }, undefined],
  ])('%j → %s', (p, expected) => {
    expect(agentUrl(p)).toBe(expected);
  });
});

describe('matchAgents', () => {
  const resolved = { nodes: ['a', 'b', 'c', 'd', 'e'], selector: 's', missing: ['e'] };
  const pods = [
    pod({ name: 'node-ca-a', nodeName: 'a', podIP: '10.0.0.1', apiPort: 9001 }),
    pod({ name: 'node-ca-old', nodeName: 'a', podIP: '10.0.0.9', deleting: true }),
    pod({ name: 'node-ca-b', nodeName: 'b', ready: false }),
    pod({ name: 'node-ca-c', nodeName: 'c', apiPort: undefined }),
    pod({ name: 'node-ca-w', nodeName: 'worker' }),
  ];

  it('gives each node its Ready pod URL or why it has none, never skipping a node', () => {
    expect(matchAgents(resolved, pods)).toEqual([
      { node: 'a', url: 'https://10.0.0.1:9001', pod: 'node-ca-a' },
      {
        node: 'b',
        code: 'AGENT_NOT_READY',
        message: expect.stringContaining('node-ca-b') as unknown,
      },
      { node: 'c', code: 'AGENT_NO_API_PORT', message: expect.any(String) as unknown },
      { node: 'd', code: 'AGENT_MISSING', message: 'no node-ca pod on node d' },
      { node: 'e', code: 'NODE_NOT_FOUND', message: 'node e does not exist' },
    ]);
  });

  it('says a node whose only agent pod is terminating is terminating, not missing', () => {
    const r = matchAgents({ nodes: ['a'], selector: 's', missing: [] }, [
      pod({ name: 'node-ca-old', nodeName: 'a', deleting: true }),
    ]);
    expect(r).toEqual([
      {
        node: 'a',
        code: 'AGENT_TERMINATING',
        message: expect.stringContaining('node-ca-old on node a is terminating') as unknown,
      },
    ]);
  });

  it('prefers a Ready pod over a terminating one on the same node', () => {
    const r = matchAgents({ nodes: ['a'], selector: 's', missing: [] }, [
      pod({ name: 'old', nodeName: 'a', podIP: '10.0.0.9', deleting: true }),
      pod({ name: 'new', nodeName: 'a', podIP: '10.0.0.2', ready: true }),
    ]);
    expect(r).toEqual([{ node: 'a', url: 'https://10.0.0.2:9443', pod: 'new' }]);
  });

  it('calls the newest of two Ready pods on a node (a surge rollout), by creation time before name', () => {
    const r = matchAgents({ nodes: ['a'], selector: 's', missing: [] }, [
      pod({ name: 'node-ca-aaaaa', nodeName: 'a', podIP: '10.0.0.3', created: Date.parse('2026-12-04T10:00:00Z') }),
      pod({ name: 'node-ca-zzzzz', nodeName: 'a', podIP: '10.0.0.4', created: Date.parse('2026-12-04T11:00:00Z') }),
    ]);
    expect(r).toEqual([{ node: 'a', url: 'https://10.0.0.4:9443', pod: 'node-ca-zzzzz' }]);
  });
});
