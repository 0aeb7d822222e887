import { StopController, type StopSignal } from '../stop-signal.js';

export interface SingleFlight<E> {
  /**
   * An iterable of the producer's events for `key`. Each iteration joins the running producer for
   * `key` (or starts one) and replays every event from the first, then follows live ones. Events are
   * shared between consumers: treat them as immutable.
   */
  run(key: string, produce: (signal: StopSignal) => AsyncIterable<E>, signal?: StopSignal): AsyncIterable<E>;
  /** Keys with a producer running. */
  inFlight(): number;
}

interface Flight<E> {
  readonly events: E[];
  finished: boolean;
  failed: boolean;
  error: unknown;
  consumers: number;
  /** The producer's stop: ours only (the producer's model call makes its own Node signal if it needs one). */
  readonly controller: StopController;
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

  async function pump(key: string, flight: Flight<E>, produce: (signal: StopSignal) => AsyncIterable<E>) {
    try {
      for await (const event of produce(flight.controller)) {
        // Leaving the loop calls the producer's return(), ending it even if it ignores the signal.
        if (flight.controller.aborted) break;
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
    produce: (signal: StopSignal) => AsyncIterable<E>,
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
        controller: new StopController(),
        waiters: new Set(),
      };
      flights.set(key, started);
      void pump(key, started, produce);
      flight = started;
    }
    return new FlightConsumer(key, flight, signal, release, wake);
  }

  return {
    run: (key, produce, signal) => new FlightRun(key, produce, signal, join),
    inFlight: () => flights.size,
  };
}

type Join<E> = (key: string, produce: (signal: StopSignal) => AsyncIterable<E>, signal: StopSignal | undefined) => AsyncIterator<E>;

/** An iteration joins the flight: a class, not a literal with a computed key (whose function V8 names per object). */
class FlightRun<E> implements AsyncIterable<E> {
  constructor(
    private readonly key: string,
    private readonly produce: (signal: StopSignal) => AsyncIterable<E>,
    private readonly signal: StopSignal | undefined,
    private readonly join: Join<E>,
  ) {}

  [Symbol.asyncIterator](): AsyncIterator<E> {
    return this.join(this.key, this.produce, this.signal);
  }
}

/** One consumer of a flight: one object (its own abort listener) rather than four closures and a context. */
class FlightConsumer<E> implements AsyncIterator<E> {
  private position = 0;
  private left = false;

  constructor(
    private readonly key: string,
    private readonly flight: Flight<E>,
    private readonly signal: StopSignal | undefined,
    private readonly release: (key: string, flight: Flight<E>) => void,
    private readonly wake: (flight: Flight<E>) => void,
  ) {
    flight.consumers += 1;
    // A consumer whose own signal aborts leaves at once, even while it waits for the next event:
    // return() on a generator waiting here would otherwise wait for the producer's next event.
    signal?.addEventListener('abort', this, { once: true });
    if (signal?.aborted) this.handleEvent();
  }

  handleEvent(): void {
    this.leave();
    this.wake(this.flight);
  }

  private leave(): void {
    if (this.left) return;
    this.left = true;
    this.signal?.removeEventListener('abort', this);
    const { flight } = this;
    flight.consumers -= 1;
    if (flight.consumers === 0 && !flight.finished) {
      this.release(this.key, flight);
      flight.controller.abort(new Error('every consumer of this single-flight stream left'));
      this.wake(flight);
    }
  }

  async next(): Promise<IteratorResult<E>> {
    const { flight } = this;
    for (;;) {
      if (this.left) return { done: true, value: undefined };
      if (this.position < flight.events.length) {
        return { done: false, value: flight.events[this.position++]! };
      }
      if (flight.finished) {
        this.leave();
        if (flight.failed) throw flight.error;
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => flight.waiters.add(resolve));
    }
  }

  async return(): Promise<IteratorResult<E>> {
    this.leave();
    return { done: true, value: undefined };
  }
}
