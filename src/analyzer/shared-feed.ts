import { Repeater, SlidingBuffer } from '@repeaterjs/repeater';

/**
 * A periodic view (the analyzer snapshot with every arm's P(best)) computed once per interval and
 * shared by every subscriber of that interval: one producer per interval, fanned out. A hundred
 * dashboards cost one computation per tick, not a hundred. Each subscriber holds at most the
 * latest value, so a slow one gets fewer values rather than a queue of stale ones.
 */

export interface SharedFeed<T> {
  /** The latest value at once (computed now unless one younger than `intervalMs` exists), then every `intervalMs`. */
  every(intervalMs: number): Repeater<T>;
  /** Producers running, one per interval with subscribers. */
  producers(): number;
}

interface Subscriber<T> {
  push(value: T): void;
  fail(error: unknown): void;
}

interface Producer<T> {
  readonly intervalMs: number;
  readonly subscribers: Set<Subscriber<T>>;
  timer: NodeJS.Timeout | undefined;
  latest: { readonly value: T; readonly at: number } | null;
}

export function createSharedFeed<T>(compute: () => T, now: () => number = () => performance.now()): SharedFeed<T> {
  const producers = new Map<number, Producer<T>>();

  /** Computes once for every subscriber; a failure ends every subscription with it. */
  function produce(producer: Producer<T>): T | undefined {
    let value: T;
    try {
      value = compute();
    } catch (error) {
      for (const subscriber of [...producer.subscribers]) subscriber.fail(error);
      return undefined;
    }
    producer.latest = { value, at: now() };
    return value;
  }

  function schedule(producer: Producer<T>): void {
    // After the computation, not on a fixed beat: a computation slower than the interval cannot pile up.
    producer.timer = setTimeout(() => {
      if (producer.subscribers.size === 0) return;
      const value = produce(producer);
      if (value === undefined) return;
      for (const subscriber of producer.subscribers) subscriber.push(value);
      schedule(producer);
    }, producer.intervalMs);
  }

  function producerFor(intervalMs: number): Producer<T> {
    let producer = producers.get(intervalMs);
    if (!producer) {
      producer = { intervalMs, subscribers: new Set(), timer: undefined, latest: null };
      producers.set(intervalMs, producer);
      schedule(producer);
    }
    return producer;
  }

  return {
    every(intervalMs) {
      return new Repeater<T>(async (push, stop) => {
        const producer = producerFor(intervalMs);
        const subscriber: Subscriber<T> = {
          push: (value) => void push(value).catch(() => undefined),
          fail: (error) => stop(error),
        };
        producer.subscribers.add(subscriber);
        const fresh = producer.latest !== null && now() - producer.latest.at < intervalMs ? producer.latest.value : produce(producer);
        if (fresh !== undefined) subscriber.push(fresh);
        await stop;
        producer.subscribers.delete(subscriber);
        if (producer.subscribers.size === 0 && producers.get(intervalMs) === producer) {
          clearTimeout(producer.timer);
          producers.delete(intervalMs);
        }
      }, new SlidingBuffer(1));
    },
    producers: () => producers.size,
  };
}
