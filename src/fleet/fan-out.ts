import { mapBounded } from '../lib/bounded.js';
import { errorMessage } from '../lib/errors.js';
import { AgentCallError } from './agent-client.js';

/** Why a node failed, as data: a code to branch on, a message for people, the HTTP status if any. */
export interface NodeFailure {
  readonly code: string;
  readonly message: string;
  readonly status?: number;
}

/** One node's outcome of a fleet operation. */
export type NodeResult<T> =
  | { readonly node: string; readonly ok: true; readonly value: T }
  | { readonly node: string; readonly ok: false; readonly error: NodeFailure; readonly value?: T };

/** Thrown by a node's work to fail it while keeping what it got (a failed backup job). */
export class NodeOperationFailed<T> extends Error {
  override readonly name = 'NodeOperationFailed';
  constructor(
    readonly failure: NodeFailure,
    readonly value: T,
  ) {
    super(failure.message);
  }
}

export function failureOf(err: unknown): NodeFailure {
  if (err instanceof NodeOperationFailed) return err.failure;
  if (err instanceof AgentCallError)
    return err.status === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, status: err.status };
  return { code: 'INTERNAL', message: errorMessage(err) };
}

/**
 * Runs `work` for every item, at most `concurrency` at a time (0 or absent:
 * all at once), and returns one result per item in input order. A throwing
 * item is that item's failure; the others carry on.
 */
export async function fanOut<I extends { node: string }, T>(
  items: readonly I[],
  work: (item: I) => Promise<T>,
  options: { concurrency?: number | undefined } = {},
): Promise<NodeResult<T>[]> {
  return mapBounded(items, options.concurrency, async (item): Promise<NodeResult<T>> => {
    try {
      return { node: item.node, ok: true, value: await work(item) };
    } catch (err) {
      const value = err instanceof NodeOperationFailed ? (err.value as T) : undefined;
      return {
        node: item.node,
        ok: false,
        error: failureOf(err),
        ...(value === undefined ? {} : { value }),
      };
    }
  });
}

/** Node names of the failed results, for the exit message. */
export function failedNodes(results: readonly NodeResult<unknown>[]): string[] {
  return results.filter((r) => !r.ok).map((r) => r.node);
}
