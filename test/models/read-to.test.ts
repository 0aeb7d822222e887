import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import type { SimulatedModelConfig } from '../../src/config/schema.js';
import { batchesOf, type CompletionEvent, type CompletionRequest } from '../../src/models/backend.js';
import { createSimulatedBackend } from '../../src/models/simulated-backend.js';
import { withStreamTimeouts } from '../../src/models/stream-timeouts.js';
import { isSinkReadable, type ReadSink } from '../../src/read-sink.js';
import { StopController } from '../../src/stop-signal.js';

/**
 * Reads answered straight to the reader (`readTo`): the simulated model's streams waiting on one
 * timer of their backend, and the timed stream passing a read through to it with no promise of
 * its own, on fake timers.
 */

function simulated(overrides: Record<string, unknown>): SimulatedModelConfig {
  const config = parseConfig({ models: [{ id: 'sim', provider: 'simulated', errorRate: 0, answerTokens: 3, ...overrides }], arms: [{ id: 'sim', model: 'sim' }] });
  return config.models[0] as SimulatedModelConfig;
}

type Batch = readonly CompletionEvent[];

/** A sink that records what it was told, and when. */
function recorder(): ReadSink<Batch> & { told: Array<{ at: number; result?: IteratorResult<Batch, void>; error?: unknown }> } {
  const told: Array<{ at: number; result?: IteratorResult<Batch, void>; error?: unknown }> = [];
  return {
    told,
    onRead: (result) => told.push({ at: performance.now(), result }),
    onReadError: (error) => told.push({ at: performance.now(), error }),
  };
}

const request = (stop: StopController) => ({ messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 100, stop, signal: undefined as never }) as CompletionRequest;

describe('reads answered straight to the reader', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("many simulated streams of one backend wait for their first token on one timer, each told at its time", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const backend = createSimulatedBackend(simulated({ ttftMs: 1_000, tokensPerSecond: 0 }));
    const start = performance.now();
    const sinks = Array.from({ length: 100 }, () => recorder());
    for (const [i, sink] of sinks.entries()) {
      const stream = batchesOf(backend.stream(request(new StopController())))[Symbol.asyncIterator]();
      expect(isSinkReadable(stream)).toBe(true);
      if (i % 2 === 1) vi.advanceTimersByTime(1);
      (stream as unknown as { readTo(sink: ReadSink<Batch>): void }).readTo(sink);
    }
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_100);
    for (const [i, sink] of sinks.entries()) {
      expect(sink.told).toHaveLength(1);
      expect(sink.told[0]!.at - start).toBe(1_000 + Math.ceil(i / 2));
      expect(sink.told[0]!.result?.value).toHaveLength(5);
    }
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an aborted simulated stream leaves the shared timer to the others, and its reader is told at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const backend = createSimulatedBackend(simulated({ ttftMs: 1_000, tokensPerSecond: 0 }));
    const left = new StopController();
    const leftSink = recorder();
    const staysSink = recorder();
    const read = (stop: StopController, sink: ReadSink<Batch>) =>
      (batchesOf(backend.stream(request(stop)))[Symbol.asyncIterator]() as unknown as { readTo(sink: ReadSink<Batch>): void }).readTo(sink);
    read(left, leftSink);
    read(new StopController(), staysSink);
    const reason = new Error('client left');
    left.abort(reason);
    expect(leftSink.told).toEqual([{ at: expect.any(Number), error: reason }]);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(staysSink.told).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a timed stream passes a read through to a simulated model, and its first-token deadline tells the reader with its code', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const backend = createSimulatedBackend(simulated({ ttftMs: 3_600_000 }));
    const timed = withStreamTimeouts(
      { start: (signal) => batchesOf(backend.stream({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 10, stop: signal, signal: undefined as never })) },
      { firstTokenMs: 500, idleMs: 500, totalMs: 10_000 },
      new StopController(),
    )[Symbol.asyncIterator]();
    expect(isSinkReadable(timed)).toBe(true);
    const sink = recorder();
    const start = performance.now();
    (timed as unknown as { readTo(sink: ReadSink<Batch>): void }).readTo(sink);
    // The deadline's timer and the simulated model's.
    expect(vi.getTimerCount()).toBe(2);
    await vi.advanceTimersByTimeAsync(499);
    expect(sink.told).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(sink.told).toEqual([{ at: start + 500, error: expect.objectContaining({ code: 'UPSTREAM_FIRST_TOKEN_TIMEOUT', retryable: true }) }]);
    // The model call was aborted: the simulated model's wait is gone too.
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a timed stream answers a second reader after the first, and a read of an ended stream at once', async () => {
    const backend = createSimulatedBackend(simulated({ ttftMs: 0, tokensPerSecond: 0 }));
    const timed = withStreamTimeouts(
      { start: (signal) => batchesOf(backend.stream({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 10, stop: signal, signal: undefined as never })) },
      { firstTokenMs: 500, idleMs: 500, totalMs: 10_000 },
      new StopController(),
    )[Symbol.asyncIterator]() as unknown as { readTo(sink: ReadSink<Batch>): void };
    const first = recorder();
    timed.readTo(first);
    // The answer is due at once: told before readTo returned.
    expect(first.told[0]!.result?.done).toBe(false);
    const second = recorder();
    timed.readTo(second);
    expect(second.told[0]!.result).toEqual({ done: true, value: undefined });
  });
});
