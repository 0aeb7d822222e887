/**
 * A read answered to its reader's object rather than with a promise: a layer that can `readTo(sink)`
 * calls `sink.onRead` (or `onReadError`) once, maybe before `readTo` returns, when its next value is
 * there. A chain of such layers between the transport and the model holds one pending promise per
 * waiting chat (the outermost reader's) instead of one per layer, each with its reaction and its
 * bound handlers (memory per waiting subscription); the sinks' methods are on their prototypes.
 */
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
