import { describe, expect, it } from 'vitest';
import { createSingleFlight } from '../../src/cache/single-flight.js';
import type { StopSignal } from '../../src/stop-signal.js';

/** A producer fed by the test, one event at a time, recording its calls and abort. */
function controllableProducer() {
  let push: ((event: string) => void) | null = null;
  const queue: string[] = [];
  let finished = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const record = { calls: 0, aborted: false, returned: false };

  async function* produce(signal: StopSignal): AsyncGenerator<string> {
    record.calls += 1;
    signal.addEventListener('abort', () => {
      record.aborted = true;
      wake?.();
    });
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (failure) throw failure;
        if (finished || signal.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      record.returned = true;
    }
  }
  push = (event) => {
    queue.push(event);
    wake?.();
  };
  return {
    produce,
    record,
    emit: (event: string) => push?.(event),
    end: () => {
      finished = true;
      wake?.();
    },
    fail: (error: Error) => {
      failure = error;
      wake?.();
    },
  };
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const events: string[] = [];
  for await (const event of iterable) events.push(event);
  return events;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('single flight', () => {
  it('runs one producer for 20 concurrent consumers, each seeing every event from the start', async () => {
    const flight = createSingleFlight<string>();
    const producer = controllableProducer();
    const early = Array.from({ length: 10 }, () => collect(flight.run('k', producer.produce)));
    producer.emit('a');
    producer.emit('b');
    await tick();
    // These join mid-stream and must still get 'a' and 'b'.
    const late = Array.from({ length: 10 }, () => collect(flight.run('k', producer.produce)));
    expect(flight.inFlight()).toBe(1);
    producer.emit('c');
    producer.end();
    const results = await Promise.all([...early, ...late]);
    expect(producer.record.calls).toBe(1);
    for (const events of results) expect(events).toEqual(['a', 'b', 'c']);
    expect(flight.inFlight()).toBe(0);
  });

  it('keeps streaming to the others when one consumer leaves early', async () => {
    const flight = createSingleFlight<string>();
    const producer = controllableProducer();
    const leaver = (async () => {
      const seen: string[] = [];
      for await (const event of flight.run('k', producer.produce)) {
        seen.push(event);
        break;
      }
      return seen;
    })();
    const stayer = collect(flight.run('k', producer.produce));
    producer.emit('a');
    expect(await leaver).toEqual(['a']);
    producer.emit('b');
    producer.end();
    expect(await stayer).toEqual(['a', 'b']);
    expect(producer.record.aborted).toBe(false);
  });

  it('gives every consumer the events before an error, then the error', async () => {
    const flight = createSingleFlight<string>();
    const producer = controllableProducer();
    const consumers = Array.from({ length: 3 }, async () => {
      const seen: string[] = [];
      try {
        for await (const event of flight.run('k', producer.produce)) seen.push(event);
        return { seen, error: null };
      } catch (error) {
        return { seen, error: (error as Error).message };
      }
    });
    producer.emit('a');
    await tick();
    producer.fail(new Error('upstream broke'));
    for (const result of await Promise.all(consumers)) expect(result).toEqual({ seen: ['a'], error: 'upstream broke' });
    expect(flight.inFlight()).toBe(0);
  });

  it('aborts the producer only when every consumer has left, and releases the key', async () => {
    const flight = createSingleFlight<string>();
    const producer = controllableProducer();
    const first = flight.run('k', producer.produce)[Symbol.asyncIterator]();
    const second = flight.run('k', producer.produce)[Symbol.asyncIterator]();
    producer.emit('a');
    expect(await first.next()).toEqual({ done: false, value: 'a' });
    expect(await second.next()).toEqual({ done: false, value: 'a' });
    await first.return!();
    await tick();
    expect(producer.record.aborted).toBe(false);
    await second.return!();
    await tick();
    expect(producer.record.aborted).toBe(true);
    expect(producer.record.returned).toBe(true);
    expect(flight.inFlight()).toBe(0);

    // A new call after abandonment starts a fresh producer.
    const fresh = controllableProducer();
    const again = collect(flight.run('k', fresh.produce));
    fresh.emit('z');
    fresh.end();
    expect(await again).toEqual(['z']);
    expect(fresh.record.calls).toBe(1);
  });

  it('starts fresh once a producer has finished, and keeps keys apart', async () => {
    const flight = createSingleFlight<string>();
    let calls = 0;
    async function* produce(): AsyncGenerator<string> {
      calls += 1;
      yield `run ${calls}`;
    }
    expect(await collect(flight.run('k', produce))).toEqual(['run 1']);
    expect(await collect(flight.run('k', produce))).toEqual(['run 2']);
    const [x, y] = await Promise.all([collect(flight.run('x', produce)), collect(flight.run('y', produce))]);
    expect(new Set([...x, ...y]).size).toBe(2);
    expect(calls).toBe(4);
  });
});
