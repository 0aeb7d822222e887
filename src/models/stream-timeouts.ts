import { UpstreamError, type CompletionEvent } from './backend.js';
import { DONE, isSinkReadable, SinkReader, type ReadSink } from '../read-sink.js';
import { createDeadlineQueue, type DeadlineQueue, type QueuedDeadline } from '../streaming/deadline-queue.js';
import { LazyAbortController, type LazyAbortSignal, type StopSignal } from '../stop-signal.js';

/**
 * Deadlines around any backend's batched stream:
 * - first token: from the start until the first `token` event (retryable: nothing was sent yet);
 * - idle: after the first token, the longest wait on the upstream for the next event (not
 *   retryable, the client already has part of an answer);
 * - total: from the start to the end of the stream (retryable only before the first token).
 *
 * The clocks run only while the consumer waits in `next()`: a slow consumer is not the model's
 * fault. On a deadline the child stop given to `start` is aborted (so the backend closes its
 * socket) and the pending `next()` rejects at once, without waiting for the upstream to notice.
 * `return()` (the consumer unsubscribing) aborts the child signal at once as well.
 *
 * What a stream costs does not grow with its tokens: one deadline per stream, re-armed lazily (the
 * idle deadline moves with every batch, and an earlier one re-arms itself when it fires) in a
 * deadline queue that the model manager shares between its calls (one Node timer for all), one
 * abort listener on the parent signal, one promise per batch, and no closure per `next()`. The
 * child's Node AbortSignal is made only if the backend asks for it (`abortSignal`). A reader that
 * takes its read straight (`readTo`, the answer producer) is answered with no promise of this
 * iterator's, and an upstream that does the same (the simulated model) is read that way too.
 */

export interface StreamTimeouts {
  readonly firstTokenMs: number;
  readonly idleMs: number;
  readonly totalMs: number;
}

export type StreamOutcome =
  | { readonly kind: 'completed' }
  | { readonly kind: 'failed'; readonly error: unknown }
  /** The consumer stopped reading (`return()`) before the stream ended. */
  | { readonly kind: 'abandoned' };

/** What the caller learns about the stream as it runs (the model manager's health figures). */
export interface StreamObserver {
  /** A batch with the stream's first token is being handed to the consumer. */
  firstToken?(): void;
  /** Called once, when the stream completes, fails (a deadline, the upstream, an abort) or is abandoned. */
  settled?(outcome: StreamOutcome): void;
}

type Batch = readonly CompletionEvent[];

/** Told by the backend once its upstream has sent all it will send (see CompletionRequest.upstreamComplete). */
export interface UpstreamCompletion {
  upstreamComplete(): void;
}

/** Starts the upstream as an object (the model manager's call), given the timed stream itself: no closure per call. */
export interface StreamStarter {
  start(signal: LazyAbortSignal, stream: UpstreamCompletion): AsyncIterable<Batch>;
}

/**
 * `start.start` gets the child stop, and the timed stream, which the backend tells once its
 * upstream has sent all it will send: from then on no deadline runs (what is left is the backend's
 * own work).
 */
export function withStreamTimeouts(
  start: StreamStarter,
  timeouts: StreamTimeouts,
  signal: StopSignal,
  observer: StreamObserver = {},
  /** Where the deadline waits; without one, a queue (and a timer) of the stream's own. */
  deadlines?: DeadlineQueue,
): AsyncIterable<Batch> {
  return new TimedStream(start, timeouts, signal, observer, deadlines);
}

/** A class, not a literal with a computed key (whose function V8 gives an own `name`, per object). */
class TimedStream implements AsyncIterable<Batch> {
  constructor(
    private readonly start: StreamStarter,
    private readonly timeouts: StreamTimeouts,
    private readonly signal: StopSignal,
    private readonly observer: StreamObserver,
    private readonly deadlines: DeadlineQueue | undefined,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    // Unreferenced: whatever the stream waits on keeps the process alive; the deadline alone need not.
    const deadlines = this.deadlines ?? createDeadlineQueue({ ref: false });
    return new TimedIterator(this.start, this.timeouts, this.signal, this.observer, deadlines);
  }
}

type Phase = 'first-token' | 'idle' | 'total';

function abortError(signal: StopSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

class TimedIterator extends SinkReader<Batch> implements AsyncIterator<Batch>, ReadSink<Batch>, QueuedDeadline, UpstreamCompletion {
  private readonly child = new LazyAbortController();
  private readonly startedAt = performance.now();
  private upstream: AsyncIterator<Batch> | undefined;
  private tokensSent = false;
  private upstreamDone = false;
  private finished = false;
  /** The deadline the waiting next() must meet. */
  private deadlineAt = Infinity;
  private deadlinePhase: Phase = 'first-token';
  /** Its slot in `deadlines` (QueuedDeadline). */
  deadlineSlot = -1;
  /** The upstream's promise handlers, made for an upstream that cannot be read straight. */
  private upstreamRead: ((result: IteratorResult<Batch>) => void) | null = null;
  private upstreamFailed: ((error: unknown) => void) | null = null;

  constructor(
    private readonly start: StreamStarter,
    private readonly timeouts: StreamTimeouts,
    private readonly parent: StopSignal,
    private readonly observer: StreamObserver,
    private readonly deadlines: DeadlineQueue,
  ) {
    super();
    // The iterator itself is the listener (handleEvent): no closure per stream for it.
    parent.addEventListener('abort', this, { once: true });
  }

  readTo(sink: ReadSink<Batch>): void {
    if (this.sink !== null) return sink.onReadError(new Error('a timed stream takes one read at a time'));
    if (this.finished) return sink.onRead(DONE);
    if (this.parent.aborted) {
      const reason = abortError(this.parent);
      this.finish({ kind: 'failed', error: reason });
      this.abandonUpstream(reason);
      return sink.onReadError(reason);
    }
    let upstream: AsyncIterator<Batch>;
    try {
      upstream = this.upstream ??= this.startUpstream()[Symbol.asyncIterator]();
    } catch (error) {
      this.finish({ kind: 'failed', error });
      return sink.onReadError(error);
    }
    this.setDeadline();
    this.sink = sink;
    if (this.deadlineAt !== Infinity) this.arm(this.deadlineAt);
    if (isSinkReadable<Batch>(upstream)) return upstream.readTo(this);
    upstream.next().then(
      (this.upstreamRead ??= (result) => this.onRead(result)),
      (this.upstreamFailed ??= (error: unknown) => this.onReadError(error)),
    );
  }

  return(): Promise<IteratorResult<Batch>> {
    if (!this.finished) {
      this.finish({ kind: 'abandoned' });
      this.abandonUpstream(new DOMException('The consumer stopped reading the stream', 'AbortError'));
    }
    // A next() still waiting ends with the stream.
    this.settleRead(DONE);
    return Promise.resolve(DONE);
  }

  private startUpstream(): AsyncIterable<Batch> {
    return this.start.start(this.child, this);
  }

  /** The backend's upstream sent all it will (UpstreamCompletion). */
  upstreamComplete(): void {
    this.upstreamDone = true;
    this.deadlineAt = Infinity;
    this.deadlines.cancel(this);
  }

  /** The upstream's batch (ReadSink). */
  onRead(result: IteratorResult<Batch>): void {
    // Settled already by a deadline, an abort or return().
    if (this.sink === null || this.finished) return;
    if (result.done) {
      this.finish({ kind: 'completed' });
    } else if (!this.tokensSent && result.value.some((event) => event.type === 'token')) {
      this.tokensSent = true;
      this.observer.firstToken?.();
    }
    this.settleRead(result);
  }

  /** The upstream failed (ReadSink). */
  onReadError(error: unknown): void {
    if (this.sink === null || this.finished) return;
    this.finish({ kind: 'failed', error });
    this.failRead(error);
  }

  /** The parent signal aborted. */
  handleEvent(): void {
    this.child.abort(this.parent.reason);
    if (this.sink === null || this.finished) return;
    const reason = abortError(this.parent);
    this.finish({ kind: 'failed', error: reason });
    this.failRead(reason);
  }

  /** The deadline queue's call (QueuedDeadline). */
  onDeadline(): void {
    if (this.sink === null || this.finished) return;
    // The deadline moved later since the timer was armed: wait for the rest.
    if (this.deadlineAt > performance.now()) return this.arm(this.deadlineAt);
    const error = this.deadlineError();
    this.finish({ kind: 'failed', error });
    this.abandonUpstream(error);
    this.failRead(error);
  }

  private finish(outcome: StreamOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.deadlines.cancel(this);
    this.parent.removeEventListener('abort', this);
    this.observer.settled?.(outcome);
  }

  private abandonUpstream(reason: unknown): void {
    this.child.abort(reason);
    // Fire and forget: an async generator queues return() behind its pending next(), and the abort
    // above is what actually stops it.
    this.upstream?.return?.().catch(() => {});
  }

  private arm(at: number): void {
    // An earlier deadline re-arms itself when it comes; only a later one must be moved.
    if (this.deadlines.scheduledAt(this) <= at) return;
    this.deadlines.schedule(this, at);
  }

  private setDeadline(): void {
    if (this.upstreamDone) {
      this.deadlineAt = Infinity;
      return;
    }
    const totalAt = this.startedAt + this.timeouts.totalMs;
    const phaseAt = this.tokensSent
      ? performance.now() + this.timeouts.idleMs
      : this.startedAt + this.timeouts.firstTokenMs;
    if (totalAt < phaseAt) {
      this.deadlineAt = totalAt;
      this.deadlinePhase = 'total';
    } else {
      this.deadlineAt = phaseAt;
      this.deadlinePhase = this.tokensSent ? 'idle' : 'first-token';
    }
  }

  private deadlineError(): UpstreamError {
    const { timeouts } = this;
    switch (this.deadlinePhase) {
      case 'total':
        return new UpstreamError('UPSTREAM_TOTAL_TIMEOUT', `stream exceeded the total timeout of ${timeouts.totalMs} ms`, {
          retryable: !this.tokensSent,
        });
      case 'idle':
        return new UpstreamError('UPSTREAM_IDLE_TIMEOUT', `no event from the model for ${timeouts.idleMs} ms`, {
          retryable: false,
        });
      case 'first-token':
        return new UpstreamError('UPSTREAM_FIRST_TOKEN_TIMEOUT', `no first token within ${timeouts.firstTokenMs} ms`, {
          retryable: true,
        });
    }
  }
}
