import type { StreamTimers } from '../../src/streaming/stream-timers.js';

/** Timers that only fire when the test advances the clock. */
export function createManualTimers() {
  let now = 0;
  let nextId = 1;
  const pending = new Map<number, { at: number; callback: () => void }>();
  const delays: number[] = [];
  const timers: StreamTimers = {
    now: () => now,
    setTimeout(callback, ms) {
      const id = nextId++;
      delays.push(ms);
      pending.set(id, { at: now + ms, callback });
      return id;
    },
    clearTimeout(handle) {
      pending.delete(handle as number);
    },
  };
  return {
    timers,
    /** Every delay ever requested, in order. */
    delays,
    pendingCount: () => pending.size,
    now: () => now,
    /** Moves the clock forward, firing due timers in order, and lets promise callbacks run. */
    async advance(ms: number): Promise<void> {
      const target = now + ms;
      for (;;) {
        const due = [...pending.entries()].filter(([, t]) => t.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        pending.delete(due[0]);
        now = due[1].at;
        due[1].callback();
        await settle();
      }
      now = target;
      await settle();
    },
  };
}

/** Lets every queued promise callback (and the ones they queue) run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A token source the test feeds by hand: each upstream next() waits until the test pushes a
 * token or ends the stream, and the test can see how often it was pulled and whether it was closed.
 */
export function createTokenSource() {
  const queued: Array<IteratorResult<string | readonly string[]>> = [];
  const waiting: Array<{ resolve: (r: IteratorResult<string | readonly string[]>) => void; reject: (e: unknown) => void }> = [];
  const state = { pulls: 0, returned: false };
  let failure: unknown = null;

  const deliver = (result: IteratorResult<string | readonly string[]>): void => {
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(result);
    else queued.push(result);
  };

  const iterator: AsyncIterableIterator<string | readonly string[]> = {
    next() {
      state.pulls += 1;
      if (failure !== null) return Promise.reject(failure);
      const result = queued.shift();
      if (result) return Promise.resolve(result);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    async return() {
      state.returned = true;
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };

  return {
    iterable: iterator as AsyncIterable<string | readonly string[]>,
    state,
    push: (token: string) => deliver({ value: token, done: false }),
    /** Several tokens that arrive at once (one network read). */
    pushBatch: (tokens: readonly string[]) => deliver({ value: tokens, done: false }),
    end: () => deliver({ value: undefined, done: true }),
    fail(error: unknown) {
      failure = error;
      waiting.splice(0).forEach((w) => w.reject(error));
    },
  };
}

/** Tracks whether a promise has settled, without awaiting it. */
export function track<T>(promise: Promise<T>) {
  const tracked = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => {
      tracked.settled = true;
      tracked.value = value;
    },
    (error: unknown) => {
      tracked.settled = true;
      tracked.error = error;
    },
  );
  return tracked;
}
