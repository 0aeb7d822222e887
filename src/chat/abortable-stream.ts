import { StopController, type StopSignal } from '../stop-signal.js';

/**
 * Wraps an async generator so that `return()` (a client unsubscribing) aborts its signal at once.
 * A generator suspended on an `await` would otherwise not see `return()` until that await settled,
 * which for a stalled upstream could be never.
 */
export function abortableStream<T>(
  start: (signal: StopSignal) => AsyncGenerator<T, void, undefined>,
): AsyncGenerator<T, void, undefined> {
  return new AbortableStream(start);
}

const ignore = (): undefined => undefined;

/** One object per stream rather than a closure per method (memory per waiting subscription). */
class AbortableStream<T> implements AsyncGenerator<T, void, undefined> {
  private readonly controller = new StopController();
  private readonly inner: AsyncGenerator<T, void, undefined>;

  constructor(start: (signal: StopSignal) => AsyncGenerator<T, void, undefined>) {
    this.inner = start(this.controller.signal);
  }

  next(): Promise<IteratorResult<T, void>> {
    return this.inner.next();
  }

  async return(): Promise<IteratorResult<T, void>> {
    this.controller.abort(new Error('stream closed by the consumer'));
    // The inner generator sees the abort as a rejection of whatever it awaits, and its finally
    // blocks run; what it throws on the way out is of no interest to a consumer that left.
    await this.inner.return(undefined).catch(ignore);
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<T, void>> {
    this.controller.abort(error);
    return this.inner.throw(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
