/**
 * A read answered to its reader's object rather than with a promise: a layer that can `readTo(sink)`
 * calls `sink.onRead` (or `onReadError`) once, maybe before `readTo` returns, when its next value is
 * there. A chain of such layers between the transport and the model holds one pending promise per
 * waiting chat (the outermost reader's) instead of one per layer, each with its reaction and its
 * bound handlers (memory per waiting subscription); the sinks' methods are on their prototypes.
 */
/** The end of a stream, shared (and frozen) so a read that ends allocates nothing. */
export const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

export interface ReadSink<T> {
  onRead(result: IteratorResult<T, void>): void;
  onReadError(error: unknown): void;
}

export interface SinkReadable<T> {
  /** One read at a time: `sink` is answered once before the next `readTo`. */
  readTo(sink: ReadSink<T>): void;
}

export function isSinkReadable<T>(stream: object): stream is SinkReadable<T> {
  return typeof (stream as Partial<SinkReadable<T>>).readTo === 'function';
}

/**
 * A SinkReadable read with `next()` as well: `next()` is a read to a sink that resolves its
 * promise. Only a read not answered at once keeps that promise (`waiting`), so that a `next()`
 * called before it settles is served after it, in order. A subclass keeps `sink` set while a read
 * waits and answers it with settleRead / failRead.
 */
export abstract class SinkReader<T> implements SinkReadable<T> {
  /** The read waiting for its answer; null between reads. */
  protected sink: ReadSink<T> | null = null;
  /** The promise the waiting next() returned. */
  protected waiting: Promise<IteratorResult<T, void>> | null = null;

  abstract readTo(sink: ReadSink<T>): void;

  next(): Promise<IteratorResult<T, void>> {
    if (this.waiting !== null) {
      const nextAfter = () => this.next();
      return this.waiting.then(nextAfter, nextAfter);
    }
    const result = new Promise<IteratorResult<T, void>>((onRead, onReadError) => this.readTo({ onRead, onReadError }));
    if (this.sink !== null) this.waiting = result;
    return result;
  }

  /** Answers the waiting read, if one waits. */
  protected settleRead(result: IteratorResult<T, void>): void {
    const { sink } = this;
    this.sink = this.waiting = null;
    sink?.onRead(result);
  }

  /** Fails the waiting read, if one waits. */
  protected failRead(reason: unknown): void {
    const { sink } = this;
    this.sink = this.waiting = null;
    sink?.onReadError(reason);
  }
}
