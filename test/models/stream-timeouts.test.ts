import { describe, expect, it } from 'vitest';
import type { CompletionEvent } from '../../src/models/backend.js';
import { withStreamTimeouts } from '../../src/models/stream-timeouts.js';
import { collect } from './helpers.js';

/**
 * A stand-in upstream that emits `tokens` spaced by `gapMs`, then hangs forever WITHOUT looking at
 * its signal: the wrapper must still throw at the deadline, not wait for this next() to settle.
 */
function upstream(tokens: readonly string[], options: { hang?: boolean; firstDelayMs?: number } = {}) {
  const seen: { signal?: AbortSignal; returned: boolean } = { returned: false };
  const start = (signal: AbortSignal): AsyncIterable<readonly CompletionEvent[]> => {
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
    const { events, error } = await collect(withStreamTimeouts(start, generous, new AbortController().signal));
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
      withStreamTimeouts(start, { ...generous, firstTokenMs: 50 }, new AbortController().signal),
    );
    expect(error).toMatchObject({ code: 'UPSTREAM_FIRST_TOKEN_TIMEOUT', retryable: true });
    expect(seen.signal?.aborted).toBe(true);
    expect(seen.signal?.reason).toBe(error);
  });

  it('throws a final UPSTREAM_IDLE_TIMEOUT when the stream stalls after tokens', async () => {
    const { start, seen } = upstream(['a'], { hang: true });
    const { events, error } = await collect(withStreamTimeouts(start, { ...generous, idleMs: 50 }, new AbortController().signal));
    expect(events).toEqual([{ type: 'token', text: 'a' }]);
    expect(error).toMatchObject({ code: 'UPSTREAM_IDLE_TIMEOUT', retryable: false });
    expect(seen.signal?.aborted).toBe(true);
  });

  it('throws UPSTREAM_TOTAL_TIMEOUT when the total budget runs out first', async () => {
    const { start } = upstream([], { hang: true });
    const { error } = await collect(
      withStreamTimeouts(start, { firstTokenMs: 10_000, idleMs: 10_000, totalMs: 50 }, new AbortController().signal),
    );
    expect(error).toMatchObject({ code: 'UPSTREAM_TOTAL_TIMEOUT', retryable: true });
  });

  it('return() aborts the child signal at once, even with a next() pending upstream', async () => {
    const { start, seen } = upstream(['a'], { hang: true });
    const iterator = withStreamTimeouts(start, generous, new AbortController().signal)[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: [{ type: 'token', text: 'a' }] });
    expect(await iterator.return!()).toEqual({ done: true, value: undefined });
    expect(seen.signal?.aborted).toBe(true);
    expect(seen.returned).toBe(true);
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('a parent abort aborts the child and rejects the pending next() with the parent reason', async () => {
    const { start, seen } = upstream([], { hang: true });
    const parent = new AbortController();
    const pending = withStreamTimeouts(start, generous, parent.signal)[Symbol.asyncIterator]().next();
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
    const { error } = await collect(withStreamTimeouts(start, generous, new AbortController().signal));
    expect(error).toBe(failure);
  });
});
