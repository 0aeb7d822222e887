/**
 * Wraps an async generator so that `return()` (a client unsubscribing) aborts its signal at once.
 * A generator suspended on an `await` would otherwise not see `return()` until that await settled,
 * which for a stalled upstream could be never.
 */
export function abortableStream<T>(
  start: (signal: AbortSignal) => AsyncGenerator<T, void, undefined>,
): AsyncGenerator<T, void, undefined> {
  const controller = new AbortController();
  const inner = start(controller.signal);
  const stop = async (): Promise<IteratorResult<T, void>> => {
    controller.abort(new Error('stream closed by the consumer'));
    // The inner generator sees the abort as a rejection of whatever it awaits, and its finally
    // blocks run; what it throws on the way out is of no interest to a consumer that left.
    await inner.return(undefined).catch(() => undefined);
    return { done: true, value: undefined };
  };
  const outer: AsyncGenerator<T, void, undefined> = {
    next: () => inner.next(),
    return: stop,
    throw: async (error: unknown) => {
      controller.abort(error);
      return inner.throw(error);
    },
    [Symbol.asyncIterator]() {
      return outer;
    },
  };
  return outer;
}
