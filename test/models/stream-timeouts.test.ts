import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CompletionEvent } from '../../src/models/backend.js';
import { withStreamTimeouts, type UpstreamCompletion } from '../../src/models/stream-timeouts.js';
import type { StopSignal } from '../../src/stop-signal.js';
import { collect } from './helpers.js';

/**
 * A stand-in upstream that emits `tokens` spaced by `gapMs`, then hangs forever WITHOUT looking at
 * its signal: the wrapper must still throw at the deadline, not wait for this next() to settle.
 */
function upstream(tokens: readonly string[], options: { hang?: boolean; firstDelayMs?: number } = {}) {
  const seen: { signal?: StopSignal; returned: boolean } = { returned: false };
  const start = (signal: StopSignal): AsyncIterable<readonly CompletionEvent[]> => {
    seen.signal = signal;
    return {
      [Symbol.asyncIterator]() {
        let i = 0;
        return {
          async next(): Promise<IteratorResult<readonly CompletionEvent[]>> {
            if (i === 0 && options.firstDelayMs) await new Promise((r) => setTimeout(r, options.firstDelayMs));
            if (i < tokens.length) return { done: false, value: [{ type: 'token', text: tokens[i++]! }] };
            if (options.hang) return new Promise(() => {});
            return { done: true, value: undefined };
          },
          async return(): Promise<IteratorResult<readonly CompletionEvent[]>> {
            seen.returned = true;
            return { done: true, value: undefined };
          },
        };
      },
    };
  };
  return { start, seen };
}

const generous = { firstTokenMs: 10_000, idleMs: 10_000, totalMs: 10_000 };

describe('withStreamTimeouts', () => {
  it('passes a healthy stream through untouched and leaves the child signal alone', async () => {
    const { start, seen } = upstream(['a', 'b']);
    const { events, error } = await collect(withStreamTimeouts({ start }, generous, new AbortController().signal));
    expect(error).toBeUndefined();
    expect(events).toEqual([
      { type: 'token', text: 'a' },
      { type: 'token', text: 'b' },
    ]);
    expect(seen.signal?.aborted).toBe(false);
  });

  it('throws a retryable UPSTREAM_FIRST_TOKEN_TIMEOUT while next() is still pending, aborting the child', async () => {
    const { start, seen } = upstream([], { hang: true });
    const { error } = await collect(
      withStreamTimeouts({ start }, { ...generous, firstTokenMs: 50 }, new AbortController().signal),
    );
    expect(error).toMatchObject({ code: 'UPSTREAM_FIRST_TOKEN_TIMEOUT', retryable: true });
    expect(seen.signal?.aborted).toBe(true);
    expect(seen.signal?.reason).toBe(error);
  });

  it('throws a final UPSTREAM_IDLE_TIMEOUT when the stream stalls after tokens', async () => {
    const { start, seen } = upstream(['a'], { hang: true });
    const { events, error } = await collect(withStreamTimeouts({ start }, { ...generous, idleMs: 50 }, new AbortController().signal));
    expect(events).toEqual([{ type: 'token', text: 'a' }]);
    expect(error).toMatchObject({ code: 'UPSTREAM_IDLE_TIMEOUT', retryable: false });
    expect(seen.signal?.aborted).toBe(true);
  });

  it('throws UPSTREAM_TOTAL_TIMEOUT when the total budget runs out first', async () => {
    const { start } = upstream([], { hang: true });
    const { error } = await collect(
      withStreamTimeouts({ start }, { firstTokenMs: 10_000, idleMs: 10_000, totalMs: 50 }, new AbortController().signal),
    );
    expect(error).toMatchObject({ code: 'UPSTREAM_TOTAL_TIMEOUT', retryable: true });
  });

  it('return() aborts the child signal at once, even with a next() pending upstream', async () => {
    const { start, seen } = upstream(['a'], { hang: true });
    const iterator = withStreamTimeouts({ start }, generous, new AbortController().signal)[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: [{ type: 'token', text: 'a' }] });
    expect(await iterator.return!()).toEqual({ done: true, value: undefined });
    expect(seen.signal?.aborted).toBe(true);
    expect(seen.returned).toBe(true);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('a parent abort aborts the child and rejects the pending next() with the parent reason', async () => {
    const { start, seen } = upstream([], { hang: true });
    const parent = new AbortController();
    const pending = withStreamTimeouts({ start }, generous, parent.signal)[Symbol.asyncIterator]().next();
    const reason = new Error('client unsubscribed');
    parent.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(seen.signal?.reason).toBe(reason);
  });

  it('passes upstream errors through unchanged', async () => {
    const failure = new Error('upstream broke');
    const start = (): AsyncIterable<readonly CompletionEvent[]> => ({
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(failure) }),
    });
    const { error } = await collect(withStreamTimeouts({ start }, generous, new AbortController().signal));
    expect(error).toBe(failure);
  });
});

/**
 * The timer and listener discipline, on fake timers: a source the test feeds by hand, so every
 * batch arrives at a known instant.
 */
describe('withStreamTimeouts on fake timers', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    // Spies first: one on the faked setTimeout restores the fake, which useRealTimers then replaces
    // (the other order leaves the fake installed for the next file sharing the worker).
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  /** An upstream whose next() waits until the test pushes a batch, ends it, or fails it. */
  function handFed() {
    const queued: Array<IteratorResult<readonly CompletionEvent[]>> = [];
    let waiting: ((result: IteratorResult<readonly CompletionEvent[]>) => void) | null = null;
    const seen: { signal?: StopSignal; upstreamComplete?: () => void; pulls: number } = { pulls: 0 };
    const start = (signal: StopSignal, stream: UpstreamCompletion): AsyncIterable<readonly CompletionEvent[]> => {
      Object.assign(seen, { signal, upstreamComplete: () => stream.upstreamComplete() });
      return {
        [Symbol.asyncIterator]: () => ({
          next() {
            seen.pulls += 1;
            const result = queued.shift();
            if (result) return Promise.resolve(result);
            return new Promise((resolve) => (waiting = resolve));
          },
        }),
      };
    };
    const deliver = (result: IteratorResult<readonly CompletionEvent[]>) => {
      const resolve = waiting;
      waiting = null;
      if (resolve) resolve(result);
      else queued.push(result);
    };
    return {
      start,
      seen,
      tokens: (...texts: string[]) => deliver({ done: false, value: texts.map((text) => ({ type: 'token', text })) }),
      end: () => deliver({ done: true, value: undefined }),
    };
  }

  const timeouts = { firstTokenMs: 1_000, idleMs: 200, totalMs: 60_000 };

  it('a burst of 1,000 batches arms one timer per kind of deadline, not one per batch, and leaves none behind', async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const source = handFed();
    const iterator = withStreamTimeouts(source, timeouts, new AbortController().signal)[Symbol.asyncIterator]();
    for (let i = 0; i < 1_000; i++) {
      source.tokens(`t${i} `);
      expect((await iterator.next()).done).toBe(false);
      expect(vi.getTimerCount()).toBe(1);
    }
    // One timer for the first-token deadline, replaced once by the (earlier) idle deadline of the
    // first wait after a token; every later idle deadline falls later, so that timer is kept.
    expect(setTimeoutSpy).toHaveBeenCalledTimes(2);
    source.end();
    expect((await iterator.next()).done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a stream that stalls after a burst fails UPSTREAM_IDLE_TIMEOUT exactly idleMs after the last wait began', async () => {
    const source = handFed();
    const iterator = withStreamTimeouts(source, timeouts, new AbortController().signal)[Symbol.asyncIterator]();
    for (let i = 0; i < 50; i++) {
      source.tokens('a', 'b', 'c');
      await iterator.next();
      await vi.advanceTimersByTimeAsync(1);
    }
    // The timer armed for the first-token deadline (t = 1,000) fires early and re-arms itself for
    // the idle deadline of this wait (t = 50 + 200).
    const stalled = iterator.next().then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await vi.advanceTimersByTimeAsync(199);
    expect(await Promise.race([stalled, Promise.resolve('pending')])).toBe('pending');
    await vi.advanceTimersByTimeAsync(1);
    expect(await stalled).toMatchObject({ code: 'UPSTREAM_IDLE_TIMEOUT', retryable: false });
    expect(source.seen.signal?.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds one abort listener on the parent for the whole stream, and none once it ends', async () => {
    const parent = new AbortController();
    const source = handFed();
    const iterator = withStreamTimeouts(source, timeouts, parent.signal)[Symbol.asyncIterator]();
    for (let i = 0; i < 20; i++) {
      source.tokens('x');
      await iterator.next();
      expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1);
    }
    source.end();
    await iterator.next();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
  });

  it('an abort while a read is pending after buffered batches rejects at once with the reason, and stops the upstream', async () => {
    const parent = new AbortController();
    const source = handFed();
    const settled: string[] = [];
    const iterator = withStreamTimeouts(source, timeouts, parent.signal, {
      settled: (outcome) => settled.push(outcome.kind),
    })[Symbol.asyncIterator]();
    source.tokens('one');
    source.tokens('two');
    expect(await iterator.next()).toMatchObject({ value: [{ text: 'one' }] });
    expect(await iterator.next()).toMatchObject({ value: [{ text: 'two' }] });
    const pending = iterator.next();
    const reason = new Error('client left');
    parent.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(source.seen.signal?.reason).toBe(reason);
    expect(settled).toEqual(['failed']);
    expect(vi.getTimerCount()).toBe(0);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('tells its observer of the first token once, and of the end once', async () => {
    const source = handFed();
    const events: string[] = [];
    const iterator = withStreamTimeouts(source, timeouts, new AbortController().signal, {
      firstToken: () => events.push('first token'),
      settled: (outcome) => events.push(outcome.kind),
    })[Symbol.asyncIterator]();
    source.tokens('a', 'b');
    source.tokens('c');
    source.end();
    while (!(await iterator.next()).done);
    expect(events).toEqual(['first token', 'completed']);
    await iterator.return!();
    expect(events).toEqual(['first token', 'completed']);
  });

  it('runs no deadline once the backend says its upstream is complete (its own work is not the upstream)', async () => {
    const source = handFed();
    const iterator = withStreamTimeouts(source, timeouts, new AbortController().signal)[Symbol.asyncIterator]();
    source.tokens('a');
    await iterator.next();
    source.seen.upstreamComplete!();
    expect(vi.getTimerCount()).toBe(0);
    const counting = iterator.next();
    await vi.advanceTimersByTimeAsync(10 * timeouts.idleMs);
    expect(vi.getTimerCount()).toBe(0);
    source.end();
    expect(await counting).toEqual({ done: true, value: undefined });
  });
});
