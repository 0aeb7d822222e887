import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CompletionEvent } from '../../src/models/backend.js';
import { withStreamTimeouts } from '../../src/models/stream-timeouts.js';
import { StopController } from '../../src/stop-signal.js';
import { createDeadlineQueue, type QueuedDeadline } from '../../src/streaming/deadline-queue.js';

/** Many deadlines on one timer, on fake timers: order, moves, cancels, and the timer itself. */

function entry(name: string, fired: string[], onDeadline?: () => void): QueuedDeadline & { name: string } {
  return {
    name,
    deadlineSlot: -1,
    onDeadline: onDeadline ?? (() => fired.push(name)),
  };
}

describe('deadline queue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tells entries in the order of their deadlines, each at its time, on one timer', async () => {
    const queue = createDeadlineQueue();
    const fired: string[] = [];
    const now = performance.now();
    for (const [name, ms] of [['c', 300], ['a', 100], ['e', 500], ['b', 200], ['d', 400]] as const) {
      queue.schedule(entry(name, fired), now + ms);
    }
    expect(vi.getTimerCount()).toBe(1);
    expect(queue.size).toBe(5);
    await vi.advanceTimersByTimeAsync(99);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(250);
    expect(fired).toEqual(['a', 'b', 'c']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fired).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(queue.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('tells every entry due at one firing, earliest first', async () => {
    const queue = createDeadlineQueue();
    const fired: string[] = [];
    const now = performance.now();
    queue.schedule(entry('late', fired), now + 50);
    queue.schedule(entry('early', fired), now + 50 - 0.5);
    queue.schedule(entry('later', fired), now + 51);
    await vi.advanceTimersByTimeAsync(60);
    expect(fired).toEqual(['early', 'late', 'later']);
  });

  it('moves an entry: earlier re-arms the timer, later leaves it to fire early and re-arm', async () => {
    const queue = createDeadlineQueue();
    const fired: string[] = [];
    const now = performance.now();
    const a = entry('a', fired);
    queue.schedule(a, now + 1_000);
    queue.schedule(a, now + 100);
    expect(queue.scheduledAt(a)).toBe(now + 100);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toEqual(['a']);
    expect(queue.scheduledAt(a)).toBe(Infinity);

    queue.schedule(a, now + 200);
    queue.schedule(a, now + 400);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toEqual(['a']);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(fired).toEqual(['a', 'a']);
  });

  it('an entry rescheduled by its own call waits for the next firing', async () => {
    const queue = createDeadlineQueue();
    const fired: string[] = [];
    let calls = 0;
    const again: QueuedDeadline = {
      deadlineSlot: -1,
      onDeadline: () => {
        calls += 1;
        fired.push(`again ${calls}`);
        if (calls < 3) queue.schedule(again, performance.now() + 10);
      },
    };
    queue.schedule(again, performance.now() + 10);
    await vi.advanceTimersByTimeAsync(10);
    expect(fired).toEqual(['again 1']);
    await vi.advanceTimersByTimeAsync(25);
    expect(fired).toEqual(['again 1', 'again 2', 'again 3']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('cancels: a cancelled entry is not told, the last cancel clears the timer', async () => {
    const queue = createDeadlineQueue();
    const fired: string[] = [];
    const now = performance.now();
    const entries = ['a', 'b', 'c', 'd'].map((name) => entry(name, fired));
    entries.forEach((e, i) => queue.schedule(e, now + 100 * (i + 1)));
    queue.cancel(entries[0]!);
    queue.cancel(entries[2]!);
    queue.cancel(entries[2]!);
    expect(queue.size).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(fired).toEqual(['b', 'd']);
    queue.schedule(entries[0]!, performance.now() + 100);
    expect(vi.getTimerCount()).toBe(1);
    queue.cancel(entries[0]!);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an entry cancelled by another entry due at the same firing is not told', async () => {
    const queue = createDeadlineQueue();
    const fired: string[] = [];
    const second = entry('second', fired);
    const first = entry('first', fired, () => {
      fired.push('first');
      queue.cancel(second);
    });
    queue.schedule(first, performance.now() + 10);
    queue.schedule(second, performance.now() + 10.5);
    await vi.advanceTimersByTimeAsync(20);
    expect(fired).toEqual(['first']);
  });

  it('keeps the heap in order through many random schedules, moves and cancels', async () => {
    const queue = createDeadlineQueue();
    const fired: Array<{ at: number; told: number }> = [];
    const start = performance.now();
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const entries = Array.from({ length: 200 }, () => {
      const e: QueuedDeadline & { at: number } = {
        at: Infinity,
        deadlineSlot: -1,
        onDeadline: () => fired.push({ at: e.at, told: performance.now() }),
      };
      return e;
    });
    for (let i = 0; i < 600; i++) {
      const e = entries[Math.floor(random() * entries.length)]!;
      if (random() < 0.2) {
        queue.cancel(e);
        e.at = Infinity;
      } else {
        e.at = start + Math.floor(random() * 1_000) + 1;
        queue.schedule(e, e.at);
      }
    }
    const expected = entries.filter((e) => e.at !== Infinity).length;
    expect(queue.size).toBe(expected);
    await vi.advanceTimersByTimeAsync(1_100);
    expect(fired).toHaveLength(expected);
    for (let i = 0; i < fired.length; i++) {
      expect(fired[i]!.told).toBeGreaterThanOrEqual(fired[i]!.at);
      if (i > 0) expect(fired[i]!.at).toBeGreaterThanOrEqual(fired[i - 1]!.at);
    }
  });

  it('an unreferenced queue does not keep the process alive', () => {
    const unref = vi.fn();
    const queue = createDeadlineQueue({
      ref: false,
      timers: { now: () => 0, setTimeout: () => ({ unref }), clearTimeout: () => undefined },
    });
    queue.schedule(entry('a', []), 10);
    expect(unref).toHaveBeenCalledTimes(1);
  });
});

/** An upstream that never answers and ignores its signal. */
const hanging = () => ({
  [Symbol.asyncIterator]: () => ({
    next: () => new Promise<IteratorResult<readonly CompletionEvent[]>>(() => {}),
    return: () => Promise.resolve({ done: true as const, value: undefined }),
  }),
});

describe('stream deadlines on one shared queue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('many streams share one timer; each times out at its own deadline with its code', async () => {
    const deadlines = createDeadlineQueue({ ref: false });
    const outcomes: Array<{ i: number; code: string; at: number }> = [];
    const start = performance.now();
    for (let i = 0; i < 50; i++) {
      const stream = withStreamTimeouts({ start: hanging }, { firstTokenMs: 100 + 10 * (i % 5), idleMs: 1_000, totalMs: 10_000 }, new StopController(), {}, deadlines);
      stream[Symbol.asyncIterator]()
        .next()
        .catch((error: { code: string }) => outcomes.push({ i, code: error.code, at: performance.now() - start }));
    }
    expect(deadlines.size).toBe(50);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(105);
    expect(outcomes.map((o) => o.i % 5)).toEqual(Array(10).fill(0));
    await vi.advanceTimersByTimeAsync(100);
    expect(outcomes).toHaveLength(50);
    expect(outcomes.every((o) => o.code === 'UPSTREAM_FIRST_TOKEN_TIMEOUT' && o.at === 100 + 10 * (o.i % 5))).toBe(true);
    expect(deadlines.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an abort takes the stream out of the queue at once; the others keep their deadlines', async () => {
    const deadlines = createDeadlineQueue({ ref: false });
    const left = new StopController();
    const stays = new StopController();
    const leftRead = withStreamTimeouts({ start: hanging }, { firstTokenMs: 100, idleMs: 100, totalMs: 100 }, left, {}, deadlines)[Symbol.asyncIterator]().next();
    const staysRead = withStreamTimeouts({ start: hanging }, { firstTokenMs: 200, idleMs: 200, totalMs: 300 }, stays, {}, deadlines)[Symbol.asyncIterator]().next();
    const staysFailed = expect(staysRead).rejects.toMatchObject({ code: 'UPSTREAM_FIRST_TOKEN_TIMEOUT' });
    expect(deadlines.size).toBe(2);
    const reason = new Error('client left');
    left.abort(reason);
    expect(deadlines.size).toBe(1);
    await expect(leftRead).rejects.toBe(reason);
    await vi.advanceTimersByTimeAsync(200);
    await staysFailed;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a stream whose idle deadline moves with every batch re-arms lazily and still times out when the upstream stalls', async () => {
    const deadlines = createDeadlineQueue({ ref: false });
    let sent = 0;
    const upstream = () => ({
      [Symbol.asyncIterator]: () => ({
        next: () =>
          sent < 5
            ? new Promise<IteratorResult<readonly CompletionEvent[]>>((resolve) =>
                setTimeout(() => resolve({ done: false, value: [{ type: 'token', text: `t${sent++}` }] }), 80),
              )
            : new Promise<IteratorResult<readonly CompletionEvent[]>>(() => {}),
        return: () => Promise.resolve({ done: true as const, value: undefined }),
      }),
    });
    const iterator = withStreamTimeouts({ start: upstream }, { firstTokenMs: 100, idleMs: 100, totalMs: 10_000 }, new StopController(), {}, deadlines)[
      Symbol.asyncIterator
    ]();
    const start = performance.now();
    for (let i = 0; i < 5; i++) {
      const read = iterator.next();
      await vi.advanceTimersByTimeAsync(80);
      await expect(read).resolves.toMatchObject({ done: false });
    }
    const stalled = iterator.next();
    const failed = stalled.catch((error: unknown) => ({ error, at: performance.now() - start }));
    await vi.advanceTimersByTimeAsync(150);
    const { error, at } = (await failed) as { error: { code: string }; at: number };
    expect(error.code).toBe('UPSTREAM_IDLE_TIMEOUT');
    expect(at).toBe(5 * 80 + 100);
    expect(deadlines.size).toBe(0);
  });
});
