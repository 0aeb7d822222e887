import { CodedError } from '../coded-error.js';
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
  /** The chat stream, cut at the stop's deadline. */
  track(stream: AsyncGenerator<ChatEvent, void, undefined>): AsyncGenerator<ChatEvent, void, undefined>;
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

interface Tracked {
  cut(): void;
  readonly ended: Promise<void>;
}

export function createChatDrain(): ChatDrain {
  const active = new Set<Tracked>();
  let stopping = false;

  function track(stream: AsyncGenerator<ChatEvent, void, undefined>): AsyncGenerator<ChatEvent, void, undefined> {
    let requestId: string | null = null;
    let attempts = 0;
    let chunks = 0;
    let finished = false;
    let cut = false;
    let onCut: () => void = () => undefined;
    const cutSignal = new Promise<'cut'>((resolve) => {
      onCut = () => resolve('cut');
    });
    let markEnded: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => {
      markEnded = resolve;
    });
    const entry: Tracked = {
      cut() {
        cut = true;
        onCut();
      },
      ended,
    };
    const end = () => {
      if (finished) return;
      finished = true;
      active.delete(entry);
      markEnded();
    };
    active.add(entry);

    /** What the client gets at the cut: the model call is aborted, the error says why. */
    const cutShort = (): IteratorResult<ChatEvent, void> => {
      void stream.return(undefined).catch(() => undefined);
      if (requestId === null) {
        end();
        throw new ShuttingDownError('this instance stopped before the chat was routed; retry, another instance will answer');
      }
      return {
        done: false,
        value: {
          type: 'error',
          requestId,
          code: 'SHUTTING_DOWN',
          message: 'this instance is stopping: the answer was cut short; retry, another instance will answer',
          partial: chunks > 0,
          attempts,
        },
      };
    };

    let delivered = false;
    let lastSeen = false;
    const never = new Promise<never>(() => undefined);
    const outer: AsyncGenerator<ChatEvent, void, undefined> = {
      async next() {
        if (finished) return { done: true, value: undefined };
        if (cut && !lastSeen) {
          if (delivered) {
            end();
            return { done: true, value: undefined };
          }
          delivered = true;
          return cutShort();
        }
        const pending = stream.next();
        // Cut while waiting: this read is abandoned, and what it ends with is of no interest.
        pending.catch(() => undefined);
        let result: IteratorResult<ChatEvent, void> | 'cut';
        try {
          result = await Promise.race([pending, lastSeen ? never : cutSignal]);
        } catch (error) {
          end();
          throw error;
        }
        if (result === 'cut') {
          delivered = true;
          return cutShort();
        }
        if (result.done) {
          end();
          return result;
        }
        const event = result.value;
        requestId = event.requestId;
        if (event.type === 'route') attempts = event.attempts;
        else if (event.type === 'chunk') chunks += 1;
        // Its last event is out: the stream ends on the next read, nothing is left to cut.
        else lastSeen = true;
        return result;
      },
      async return() {
        end();
        return stream.return(undefined);
      },
      async throw(error: unknown) {
        end();
        return stream.throw(error);
      },
      [Symbol.asyncIterator]() {
        return outer;
      },
    };
    return outer;
  }

  return {
    admit() {
      if (stopping) throw new ShuttingDownError();
    },
    track,
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
