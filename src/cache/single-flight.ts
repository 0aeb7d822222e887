import type { StopSignal } from '../stop-signal.js';

export interface SingleFlight<E> {
  /**
   * An iterable of the producer's events for `key`. Each iteration joins the running producer for
   * `key` (or starts one) and replays every event from the first, then follows live ones. Events are
   * shared between consumers: treat them as immutable.
   */
  run(key: string, produce: (signal: AbortSignal) => AsyncIterable<E>, signal?: StopSignal): AsyncIterable<E>;
  /** Keys with a producer running. */
  inFlight(): number;
}

interface Flight<E> {
  readonly events: E[];
  finished: boolean;
  failed: boolean;
  error: unknown;
  consumers: number;
  readonly controller: AbortController;
  /** Resolvers of consumers waiting for the next event or the end. */
  readonly waiters: Set<() => void>;
}

/**
 * Identical requests share one producer while it runs. The producer is aborted only when every
 * consumer has left, so one client disconnecting never cuts the others off. A finished (or
 * abandoned) key is released at once: later calls start a fresh producer.
 */
export function createSingleFlight<E>(): SingleFlight<E> {
  const flights = new Map<string, Flight<E>>();

  function wake(flight: Flight<E>): void {
    const waiters = [...flight.waiters];
    flight.waiters.clear();
    for (const resolve of waiters) resolve();
  }

  function release(key: string, flight: Flight<E>): void {
    if (flights.get(key) === flight) flights.delete(key);
  }

  async function pump(key: string, flight: Flight<E>, produce: (signal: AbortSignal) => AsyncIterable<E>) {
    try {
      for await (const event of produce(flight.controller.signal)) {
        // Leaving the loop calls the producer's return(), ending it even if it ignores the signal.
        if (flight.controller.signal.aborted) break;
        flight.events.push(event);
        wake(flight);
      }
    } catch (error) {
      flight.failed = true;
      flight.error = error;
    } finally {
      flight.finished = true;
      release(key, flight);
      wake(flight);
    }
  }

  function join(
    key: string,
    produce: (signal: AbortSignal) => AsyncIterable<E>,
    signal: StopSignal | undefined,
  ): AsyncIterator<E> {
    let flight = flights.get(key);
    if (flight === undefined) {
      const started: Flight<E> = {
        events: [],
        finished: false,
        failed: false,
        error: undefined,
        consumers: 0,
        controller: new AbortController(),
        waiters: new Set(),
      };
      flights.set(key, started);
      void pump(key, started, produce);
      flight = started;
    }
    const joined = flight;
    joined.consumers += 1;
    let position = 0;
    let left = false;

    // A consumer whose own signal aborts leaves at once, even while it waits for the next event:
    // return() on a generator waiting here would otherwise wait for the producer's next event.
    const onAbort = (): void => {
      leave();
      wake(joined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();

    function leave(): void {
      if (left) return;
      left = true;
      signal?.removeEventListener('abort', onAbort);
      joined.consumers -= 1;
      if (joined.consumers === 0 && !joined.finished) {
        release(key, joined);
        joined.controller.abort(new Error('every consumer of this single-flight stream left'));
        wake(joined);
      }
    }

    return {
      async next(): Promise<IteratorResult<E>> {
        for (;;) {
          if (left) return { done: true, value: undefined };
          if (position < joined.events.length) {
            return { done: false, value: joined.events[position++]! };
          }
          if (joined.finished) {
            leave();
            if (joined.failed) throw joined.error;
            return { done: true, value: undefined };
          }
          await new Promise<void>((resolve) => joined.waiters.add(resolve));
        }
      },
      async return(): Promise<IteratorResult<E>> {
        leave();
        return { done: true, value: undefined };
      },
    };
  }

  return {
    run(key, produce, signal) {
      return { [Symbol.asyncIterator]: () => join(key, produce, signal) };
    },
    inFlight: () => flights.size,
  };
}
