import type { AgentClient, AgentPullCheckResult } from './agent-api.js';
import { fanOut, NodeOperationFailed, type NodeResult } from './fan-out.js';

export interface NodePullCheck {
  readonly node: string;
  readonly results: readonly AgentPullCheckResult[];
}

/** `POST /v1/pull-checks` on every node; a node fails when any image fails (or the call does). */
export function runFleetPullCheck(
  clients: readonly AgentClient[],
  images: readonly string[],
  options: { concurrency?: number | undefined; signal?: AbortSignal | undefined } = {},
): Promise<NodeResult<NodePullCheck>[]> {
  return fanOut(
    clients,
    async (client) => {
      const answer = await client.pullCheck(images, options.signal);
      const value = { node: client.node, results: answer.results };
      const bad = answer.results.filter((r) => !r.ok);
      if (!answer.ok || bad.length > 0) {
        const codes = [...new Set(bad.map((r) => r.error?.code ?? 'OTHER'))].join(',');
        throw new NodeOperationFailed(
          {
            code: 'PULL_FAILED',
            message: `${bad.length} of ${answer.results.length} images failed (${codes})`,
          },
          value,
        );
      }
      return value;
    },
    { concurrency: options.concurrency },
  );
}

/** The node × image table: `ok` or the failure code, `-` where the node gave no answer for it. */
export function pullCheckRows(
  images: readonly string[],
  results: readonly NodeResult<NodePullCheck>[],
): string[][] {
  return results.map((r) => {
    const byImage = new Map((r.value?.results ?? []).map((x) => [x.image, x]));
    const cells = images.map((image) => {
      const x = byImage.get(image);
      if (x === undefined) return r.ok ? '-' : r.error.code;
      return x.ok ? 'ok' : (x.error?.code ?? 'OTHER');
    });
    return [r.node, ...cells];
  });
}
