import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { UpstreamError, type CompletionEvent, type CompletionRequest, type ModelBackend } from '../../src/models/backend.js';
import { createModelManager } from '../../src/models/model-manager.js';

describe('model manager', () => {
  it('a half-open probe cancelled by its client frees the probe slot instead of keeping the model closed', async () => {
    const config = parseConfig({
      models: [
        {
          id: 'flaky',
          provider: 'openai',
          baseUrl: 'http://127.0.0.1:9/v1',
          model: 'm',
          circuit: { failureThreshold: 1, openMs: 50 },
        },
      ],
      arms: [{ id: 'a', model: 'flaky' }],
    });
    let calls = 0;
    const backend: ModelBackend = {
      id: 'flaky',
      provider: 'test',
      pricing: { inputPer1k: 0, outputPer1k: 0 },
      async *stream(request: CompletionRequest): AsyncGenerator<CompletionEvent> {
        calls += 1;
        if (calls === 1) throw new UpstreamError('UPSTREAM_HTTP_ERROR', 'boom', { retryable: true, status: 500 });
        // The probe: waits until its client gives up.
        await new Promise((_, reject) => request.signal.addEventListener('abort', () => reject(request.signal.reason)));
      },
    };
    const models = createModelManager({
      models: config.models,
      env: {},
      logger: createLogger('silent'),
      backends: new Map([['flaky', backend]]),
    });
    const drain = async (signal: AbortSignal) => {
      for await (const _event of models.stream('flaky', { messages: [{ role: 'user', content: 'x' }], maxTokens: 5, signal })) {
        // nothing
      }
    };
    await expect(drain(new AbortController().signal)).rejects.toBeInstanceOf(UpstreamError);
    expect(models.isAvailable('flaky')).toBe(false);
    await sleep(60);
    expect(models.view('flaky').health.status).toBe('half-open');

    const client = new AbortController();
    const probe = drain(client.signal);
    await sleep(5);
    expect(models.isAvailable('flaky')).toBe(false);
    client.abort();
    await probe.catch(() => undefined);
    // The cancelled probe proved nothing either way: the next request may probe at once.
    expect(models.isAvailable('flaky')).toBe(true);
    await models.close();
  });

  it("makes a call's Node AbortSignal only for a backend that reads it, and a deadline aborts it without aborting the caller", async () => {
    const config = parseConfig({
      models: [
        { id: 'watcher', provider: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'm', timeouts: { firstTokenMs: 30, idleMs: 1_000, totalMs: 1_000 } },
        { id: 'reader', provider: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'm', timeouts: { firstTokenMs: 30, idleMs: 1_000, totalMs: 1_000 } },
      ],
      arms: [{ id: 'a', model: 'watcher' }],
    });
    const seen: { stopAborted?: boolean; signal?: AbortSignal } = {};
    const hanging = (readSignal: boolean): ModelBackend => ({
      id: readSignal ? 'reader' : 'watcher',
      provider: 'test',
      pricing: { inputPer1k: 0, outputPer1k: 0 },
      async *stream(request: CompletionRequest): AsyncGenerator<CompletionEvent> {
        const stop = request.stop!;
        if (readSignal) seen.signal = request.signal;
        // Hangs until its call is stopped, watching the stop alone unless it reads the signal.
        await new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve()));
        seen.stopAborted = stop.aborted;
      },
    });
    const models = createModelManager({
      models: config.models,
      env: {},
      logger: createLogger('silent'),
      backends: new Map([
        ['watcher', hanging(false)],
        ['reader', hanging(true)],
      ]),
    });
    const caller = new AbortController();
    const drain = async (modelId: string) => {
      for await (const _event of models.stream(modelId, { messages: [{ role: 'user', content: 'x' }], maxTokens: 5, signal: caller.signal })) {
        // nothing
      }
    };
    await expect(drain('watcher')).rejects.toMatchObject({ code: 'UPSTREAM_FIRST_TOKEN_TIMEOUT' });
    // The deadline reached the backend through its stop; no Node signal was asked for.
    expect(seen.stopAborted).toBe(true);
    expect(seen.signal).toBeUndefined();
    await expect(drain('reader')).rejects.toMatchObject({ code: 'UPSTREAM_FIRST_TOKEN_TIMEOUT' });
    expect(seen.signal?.aborted).toBe(true);
    expect(seen.signal?.reason).toMatchObject({ code: 'UPSTREAM_FIRST_TOKEN_TIMEOUT' });
    expect(caller.signal.aborted).toBe(false);
    await models.close();
  });
});
