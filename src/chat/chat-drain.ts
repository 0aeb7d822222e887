import { CodedError } from '../coded-error.js';
import { DONE, isSinkReadable, type ReadSink } from '../read-sink.js';
import { StopController } from '../stop-signal.js';
import type { ChatEvent } from './chat-events.js';

/**
 * The one promise a stop makes to every chat, whatever its transport: a chat in flight either
 * finishes, or, if it is still streaming at the cut, ends with a ChatError SHUTTING_DOWN (its model
 * call aborted). A chat cut before its route (no first token yet) fails with the coded error
 * itself, since a ChatError belongs after a ChatRoute. Chats asked for once the stop began are
 * refused with SHUTTING_DOWN.
 */

export interface ChatDrain {
  /** Throws SHUTTING_DOWN once a stop began. */
  admit(): void;
  /**
   * Counts `chat` in flight until it is read to its end, and returns it: the chat stream, cut at
   * the stop's deadline.
   */
  track(chat: TrackedChat): AsyncGenerator<ChatEvent, void, undefined>;
  /**
   * Refuses new chats, waits for those in flight until `cutAt` (a `performance.now()` time), ends
   * the rest with SHUTTING_DOWN, and resolves once every one has been read to its end or `giveUpAt` passed.
   */
  stop(cutAt: number, giveUpAt: number): Promise<void>;
  /** Chats in flight. */
  readonly inFlight: number;
}

export class ShuttingDownError extends CodedError<'SHUTTING_DOWN'> {
  override readonly name = 'ShuttingDownError';

  constructor(message = 'this instance is stopping; retry, another instance will answer') {
    super('SHUTTING_DOWN', message, { retryAfter: 1 });
  }
}

const ignore = (): undefined => undefined;

/**
 * One chat in flight: the stream, cut at the stop's deadline, aborted when its reader leaves, and
 * observed. One object between the transport and the chat service's generator, rather than an
 * async layer each for the drain, the metering and the abort, each with its await and promise per
 * event; and a class rather than a dozen closures and three promises (memory per waiting
 * subscription). What else a chat is read for (the gate's metering) is a subclass, and the chat's
 * stop is the object itself, rather than an object each: the stream given to `start` is started
 * with it as its signal. It is aborted when the reader leaves (`return()`, `throw()`) or the chat
 * is cut, before the stream is told, so that the model call stops at once.
 */
export abstract class TrackedChat
  extends StopController
  implements AsyncGenerator<ChatEvent, void, undefined>, ReadSink<ChatEvent>
{
  /** The last event's request, once one was read. */
  protected requestId: string | null = null;
  private attempts = 0;
  private chunks = 0;
  private finished = false;
  private isCut = false;
  /** The cut's event was handed out. */
  private delivered = false;
  /** The stream's last event is out: it ends on the next read, nothing is left to cut. */
  private lastSeen = false;
  /** The reader's read in flight; null while none waits (or once the cut answered it). */
  private resolveRead: ((result: IteratorResult<ChatEvent, void>) => void) | null = null;
  private rejectRead: ((error: unknown) => void) | null = null;
  /** The cut answered the read in flight: what the stream's read ends with is observed late. */
  private readAbandoned = false;
  private endedPromise: Promise<void> | null = null;
  private markEnded: (() => void) | null = null;
  /** The drain's chats in flight, once tracked. */
  private active: Set<TrackedChat> | null = null;
  /** Set by `start`, before the chat is read. */
  private stream!: AsyncGenerator<ChatEvent, void, undefined>;

  /** The chat stream, started with this chat as its stop signal. */
  start(stream: AsyncGenerator<ChatEvent, void, undefined>): this {
    this.stream = stream;
    return this;
  }

  /** Sees every event before the reader does (and one a drain's cut abandoned, after the end). */
  protected abstract observe(event: ChatEvent): void;
  /** The chat is over: read to its end, failed, left or cut. Called at least once; must be idempotent. */
  protected abstract settled(): void;

  /** Counted in flight by a drain. */
  trackIn(active: Set<TrackedChat>): this {
    this.active = active;
    active.add(this);
    return this;
  }

  /** Resolves once the chat was read to its end (made only when a stop waits for it). */
  get ended(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return (this.endedPromise ??= new Promise<void>((resolve) => {
      this.markEnded = resolve;
    }));
  }

  cut(): void {
    this.isCut = true;
    // The stream's last event is out (it ends on its next read): nothing is left to cut.
    if (this.resolveRead === null || this.lastSeen) return;
    const { resolveRead, rejectRead } = this;
    this.resolveRead = this.rejectRead = null;
    // Cut while waiting: this read is abandoned, and what it ends with (a ChatDone, say) is still
    // observed; its rejection is ignored.
    this.readAbandoned = true;
    try {
      resolveRead(this.cutShort());
    } catch (error) {
      rejectRead!(error);
    }
  }

  private end(): void {
    if (this.finished) return;
    this.finished = true;
    this.active?.delete(this);
    this.markEnded?.();
  }

  /**
   * Aborts the stream's signal, then ends the stream: the inner generator sees the abort as a
   * rejection of whatever it awaits, and its finally blocks run; what it throws on the way out is
   * of no interest to a reader that left.
   */
  private async close(): Promise<IteratorResult<ChatEvent, void>> {
    this.abort(new Error('stream closed by the consumer'));
    try {
      await this.stream.return(undefined).catch(ignore);
    } finally {
      this.settled();
    }
    return DONE;
  }

  private lateResult(result: IteratorResult<ChatEvent, void>): void {
    if (result.done) this.settled();
    else this.observe(result.value);
  }

  /** What the client gets at the cut: the model call is aborted, the error says why. */
  private cutShort(): IteratorResult<ChatEvent, void> {
    this.delivered = true;
    void this.close().catch(ignore);
    if (this.requestId === null) {
      this.end();
      throw new ShuttingDownError('this instance stopped before the chat was routed; retry, another instance will answer');
    }
    return {
      done: false,
      value: {
        type: 'error',
        requestId: this.requestId,
        code: 'SHUTTING_DOWN',
        message: 'this instance is stopping: the answer was cut short; retry, another instance will answer',
        partial: this.chunks > 0,
        attempts: this.attempts,
      },
    };
  }

  /**
   * One promise per read, settled by the stream's read or by the cut, whichever comes first; not
   * an async method awaiting a race (a promise, an await and three closures more per event). The
   * chat service's stream answers it straight to this object (`readTo`): no promise of its own.
   */
  next(): Promise<IteratorResult<ChatEvent, void>> {
    if (this.finished) return Promise.resolve({ done: true, value: undefined });
    if (this.isCut && !this.lastSeen) {
      if (this.delivered) {
        this.end();
        return Promise.resolve({ done: true, value: undefined });
      }
      try {
        return Promise.resolve(this.cutShort());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const read = new Promise<IteratorResult<ChatEvent, void>>((resolve, reject) => {
      this.resolveRead = resolve;
      this.rejectRead = reject;
    });
    const { stream } = this;
    if (isSinkReadable<ChatEvent>(stream)) stream.readTo(this);
    else
      stream.next().then(
        (result) => this.onRead(result),
        (error: unknown) => this.onReadError(error),
      );
    return read;
  }

  /** The stream's read (ReadSink). */
  onRead(result: IteratorResult<ChatEvent, void>): void {
    const resolve = this.resolveRead;
    if (resolve === null) {
      // Answered by the cut already.
      if (this.readAbandoned) {
        this.readAbandoned = false;
        this.lateResult(result);
      }
      return;
    }
    this.resolveRead = this.rejectRead = null;
    if (result.done) {
      this.settled();
      this.end();
      return resolve(result);
    }
    const event = result.value;
    this.observe(event);
    this.requestId = event.requestId;
    if (event.type === 'route') this.attempts = event.attempts;
    else if (event.type === 'chunk') this.chunks += 1;
    else this.lastSeen = true;
    resolve(result);
  }

  onReadError(error: unknown): void {
    const reject = this.rejectRead;
    this.readAbandoned = false;
    if (reject === null) return;
    this.resolveRead = this.rejectRead = null;
    this.settled();
    this.end();
    reject(error);
  }

  async return(): Promise<IteratorResult<ChatEvent, void>> {
    this.end();
    return this.close();
  }

  async throw(error: unknown): Promise<IteratorResult<ChatEvent, void>> {
    this.end();
    this.abort(error);
    try {
      return await this.stream.throw(error);
    } finally {
      this.settled();
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

export function createChatDrain(): ChatDrain {
  const active = new Set<TrackedChat>();
  let stopping = false;

  return {
    admit() {
      if (stopping) throw new ShuttingDownError();
    },
    track: (chat) => chat.trackIn(active),
    async stop(cutAt, giveUpAt) {
      stopping = true;
      const wait = (until: number) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, until - performance.now()));
          timer.unref();
          void Promise.all([...active].map((entry) => entry.ended)).then(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      await wait(cutAt);
      for (const entry of active) entry.cut();
      await wait(giveUpAt);
    },
    get inFlight() {
      return active.size;
    },
  };
}
