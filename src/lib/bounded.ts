/**
 * Calls `fn` for every item with at most `limit` calls in flight (0, a
 * negative number or undefined: all at once) and returns the results in
 * input order. A call that rejects rejects the whole map, as `Promise.all`
 * does; callers that want per-item failures catch inside `fn`.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number | undefined,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  const width = limit !== undefined && limit > 0 ? Math.min(limit, items.length) : items.length;
  let next = 0;
  // Each worker takes the next index when its call settles, so a slow item holds one slot only.
  const worker = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) {
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}
