import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import type { SimulatedModelConfig } from '../../src/config/schema.js';
import { batchesOf, type CompletionRequest } from '../../src/models/backend.js';
import { createSimulatedBackend } from '../../src/models/simulated-backend.js';
import { StopController } from '../../src/stop-signal.js';

/** The simulated model's waits (first token, pacing) hold one timer and one abort listener each, and drop both when they end. */
function simulated(overrides: Record<string, unknown>): SimulatedModelConfig {
  const config = parseConfig({ models: [{ id: 'sim', provider: 'simulated', errorRate: 0, answerTokens: 5, ...overrides }], arms: [{ id: 'sim', model: 'sim' }] });
  return config.models[0] as SimulatedModelConfig;
}

const request = (signal: AbortSignal) => ({ messages: [{ role: 'user' as const, content: 'hello' }], maxTokens: 100, signal });

describe('simulated backend waits', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends nothing before its time to first token, everything once it has passed, and leaves no listener behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const controller = new AbortController();
    const iterator = createSimulatedBackend(simulated({ ttftMs: 1_000, tokensPerSecond: 0 })).stream(request(controller.signal))[Symbol.asyncIterator]();
    let first: IteratorResult<unknown> | undefined;
    void iterator.next().then((result) => (first = result));
    await vi.advanceTimersByTimeAsync(999);
    expect(first).toBeUndefined();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(first).toEqual({ done: false, value: { type: 'token', text: expect.any(String) } });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once with the reason when aborted while waiting for its first token, and clears its timer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const controller = new AbortController();
    const iterator = createSimulatedBackend(simulated({ ttftMs: 3_600_000 })).stream(request(controller.signal))[Symbol.asyncIterator]();
    const pending = iterator.next();
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    const reason = new Error('client left');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('paces a stream with one wait at a time: every token arrives, and no listener or timer stays after the end', async () => {
    const controller = new AbortController();
    const texts: string[] = [];
    let most = 0;
    for await (const event of createSimulatedBackend(simulated({ ttftMs: 0, tokensPerSecond: 500 })).stream(request(controller.signal))) {
      most = Math.max(most, getEventListeners(controller.signal, 'abort').length);
      if (event.type === 'token') texts.push(event.text);
    }
    expect(texts).toHaveLength(5);
    expect(most).toBeLessThanOrEqual(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('refuses to start on an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    const iterator = createSimulatedBackend(simulated({ ttftMs: 50 })).stream(request(controller.signal))[Symbol.asyncIterator]();
    await expect(iterator.next()).rejects.toThrow('gone');
  });
});

describe('simulated backend stream', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A request whose Node signal must not be made: the simulated model watches `stop` alone. */
  const stopRequest = (stop: StopController) => ({
    messages: [{ role: 'user' as const, content: 'hello' }],
    maxTokens: 100,
    stop,
    get signal(): AbortSignal {
      throw new Error('the simulated model asked for a Node AbortSignal');
    },
  });

  it('watches the call stop without making a Node signal, and rejects a waiting read at once when it aborts', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const stop = new StopController();
    const iterator = batchesOf(createSimulatedBackend(simulated({ ttftMs: 3_600_000 })).stream(stopRequest(stop) as CompletionRequest))[Symbol.asyncIterator]();
    const pending = iterator.next();
    await vi.advanceTimersByTimeAsync(10);
    expect(vi.getTimerCount()).toBe(1);
    stop.abort(new Error('deadline'));
    await expect(pending).rejects.toThrow('deadline');
    expect(vi.getTimerCount()).toBe(0);
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('return() while a read waits for a paced token: the read ends at once, the timer is cleared, nothing follows', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const stop = new StopController();
    const iterator = batchesOf(createSimulatedBackend(simulated({ ttftMs: 0, tokensPerSecond: 10 })).stream(stopRequest(stop) as CompletionRequest))[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toEqual([{ type: 'token', text: expect.any(String) }]);
    const waiting = iterator.next();
    expect(vi.getTimerCount()).toBe(1);
    await iterator.return!();
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    expect(vi.getTimerCount()).toBe(0);
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('a burst of due tokens is one batch, then it waits for the next one on one timer, and ends with usage and finish', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const stop = new StopController();
    const iterator = batchesOf(createSimulatedBackend(simulated({ ttftMs: 0, tokensPerSecond: 10 })).stream(stopRequest(stop) as CompletionRequest))[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toHaveLength(1);
    // Stalled past three tokens' time: those three come at once, in one read.
    vi.advanceTimersByTime(350);
    expect((await iterator.next()).value).toHaveLength(3);
    const waiting = iterator.next();
    await vi.advanceTimersByTimeAsync(49);
    let last: IteratorResult<unknown> | undefined;
    void waiting.then((result) => (last = result));
    await vi.advanceTimersByTimeAsync(1);
    expect(last?.value).toEqual([
      { type: 'token', text: expect.any(String) },
      { type: 'usage', promptTokens: expect.any(Number), completionTokens: 5, estimated: false },
      { type: 'finish', reason: 'stop' },
    ]);
    expect(vi.getTimerCount()).toBe(0);
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });
});
