/**
 * Runs fn over items with at most `limit` calls in flight and returns the results in input order.
 * The first rejection stops new calls from starting and is rethrown once the in-flight calls settle.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`mapLimit: limit must be a positive integer, got ${limit}`);
  const results = new Array<R>(items.length);
  // one iterator for all workers: each takes the next item when it is free
  const queue = items.entries();
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    for (let n = queue.next(); !failure && !n.done; n = queue.next()) {
      const [i, item] = n.value;
      try {
        results[i] = await fn(item, i);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.err;
  return results;
}
