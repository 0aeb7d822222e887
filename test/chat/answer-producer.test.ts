import { describe, expect, it } from 'vitest';
import type { CacheManager } from '../../src/cache/cache-manager.js';
import { createAfterDispatch } from '../../src/chat/after-dispatch.js';
import { createAnswerProducer, type AnswerEvent } from '../../src/chat/answer-producer.js';
import type { LearningEventBody } from '../../src/learning/learning-events.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { batchedEvents, UpstreamError, type CompletionEvent, type ModelCallRequest } from '../../src/models/backend.js';
import type { ModelManager } from '../../src/models/model-manager.js';
import type { AdaptiveRouter, RouteDecision } from '../../src/router/adaptive-router.js';
import { StopController } from '../../src/stop-signal.js';

/**
 * The answer producer over scripted model calls: what it hands out without reading the model
 * again (a batch's route and tokens), failover before the first token, an abort while events are
 * buffered, and return() while a read waits.
 */

type Step = readonly CompletionEvent[] | Error | 'hang';

interface ScriptedCall {
  readonly modelId: string;
  reads: number;
  returned: boolean;
  request: ModelCallRequest;
}

function scriptedModels(scripts: Record<string, Step[]>) {
  const calls: ScriptedCall[] = [];
  const models = {
    stream(modelId: string, request: ModelCallRequest) {
      const steps = [...scripts[modelId]!];
      const call: ScriptedCall = { modelId, reads: 0, returned: false, request };
      calls.push(call);
      // As the model manager's timed iterator does, return() ends a read still waiting.
      let endWaiting: (() => void) | null = null;
      return batchedEvents(() => ({
        [Symbol.asyncIterator]: () => ({
          next(): Promise<IteratorResult<readonly CompletionEvent[]>> {
            call.reads += 1;
            if (request.signal.aborted) return Promise.reject(request.signal.reason);
            const step = steps.shift();
            if (step === undefined) return Promise.resolve({ done: true, value: undefined });
            if (step instanceof Error) return Promise.reject(step);
            if (step === 'hang') {
              return new Promise((resolve, reject) => {
                endWaiting = () => resolve({ done: true, value: undefined });
                request.signal.addEventListener('abort', () => reject(request.signal.reason));
              });
            }
            return Promise.resolve({ done: false, value: step });
          },
          return(): Promise<IteratorResult<readonly CompletionEvent[]>> {
            call.returned = true;
            endWaiting?.();
            return Promise.resolve({ done: true, value: undefined });
          },
        }),
      }));
    },
    view: () => ({ pricing: { inputPer1k: 0, outputPer1k: 0 } }),
  } as unknown as ModelManager;
  return { models, calls };
}

const decisionFor = (armId: string): RouteDecision => ({ armId, modelId: armId, context: '*', confidence: 0.5, pinned: false });

function producer(scripts: Record<string, Step[]>, options: { deferPulls?: boolean } = {}) {
  const config = parseConfig({
    models: [
      { id: 'first', provider: 'simulated' },
      { id: 'second', provider: 'simulated' },
    ],
    arms: [
      { id: 'first', model: 'first' },
      { id: 'second', model: 'second' },
    ],
  });
  const { models, calls } = scriptedModels(scripts);
  const router = {
    failover: (_decision: RouteDecision, excluded: ReadonlySet<string>) => (excluded.has('second') ? null : decisionFor('second')),
    rewardOf: () => 0.5,
  } as unknown as AdaptiveRouter;
  const cache = { cacheable: () => false, set: async () => undefined } as unknown as CacheManager;
  /** What learning was told, and how many model reads had been made by then. */
  const observed: Array<{ event: LearningEventBody; reads: number }> = [];
  const produce = createAnswerProducer({
    config,
    router,
    models,
    cache,
    learning: {
      observe: async (event) => {
        observed.push({ event, reads: calls.reduce((sum, call) => sum + call.reads, 0) });
      },
    },
    logger: createLogger('silent'),
    now: () => performance.now(),
    afterDispatch: options.deferPulls ? createAfterDispatch(createLogger('silent')) : undefined,
  });
  const stop = new StopController();
  const answer = produce('r1', { messages: [{ role: 'user', content: 'hi' }] }, decisionFor('first'), null, stop);
  return { answer, calls, stop, observed };
}

const tokens = (...texts: string[]): CompletionEvent[] => texts.map((text) => ({ type: 'token', text }));
const types = (events: readonly AnswerEvent[]) => events.map((event) => event.type);

describe('answer producer', () => {
  it("hands out a batch's route and tokens from one read of the model, then ends with the model's figures", async () => {
    const { answer, calls } = producer({ first: [tokens('a', ' b'), [...tokens(' c'), { type: 'finish', reason: 'stop' }]] });
    const route = await answer.next();
    expect(route.value).toMatchObject({ type: 'route', decision: { armId: 'first' }, attempts: 1 });
    expect(calls[0]!.reads).toBe(1);
    expect((await answer.next()).value).toEqual({ type: 'tokens', texts: ['a', ' b'] });
    // The tokens were buffered with the route: the model was not read again for them.
    expect(calls[0]!.reads).toBe(1);
    expect((await answer.next()).value).toEqual({ type: 'tokens', texts: [' c'] });
    const end = await answer.next();
    expect(end.value).toMatchObject({ type: 'end', finishReason: 'stop', attempts: 1, metrics: { completionTokens: 3 } });
    expect(await answer.next()).toEqual({ done: true, value: undefined });
  });

  it('fails over before the first token, and names the arm that answered', async () => {
    const { answer, calls } = producer({
      first: [new UpstreamError('UPSTREAM_HTTP_ERROR', 'down', { retryable: true, status: 503 })],
      second: [tokens('ok')],
    });
    const events: AnswerEvent[] = [];
    for await (const event of answer) events.push(event);
    expect(types(events)).toEqual(['route', 'tokens', 'end']);
    expect(events[0]).toMatchObject({ decision: { armId: 'second' }, attempts: 2 });
    expect(calls.map((call) => call.modelId)).toEqual(['first', 'second']);
  });

  it('ends with an honest partial failure when the model fails after its first token, trying no other arm', async () => {
    const { answer, calls } = producer({
      first: [tokens('half'), new UpstreamError('UPSTREAM_IDLE_TIMEOUT', 'stalled', { retryable: false })],
      second: [tokens('never')],
    });
    const events: AnswerEvent[] = [];
    for await (const event of answer) events.push(event);
    expect(types(events)).toEqual(['route', 'tokens', 'failure']);
    expect(events[2]).toMatchObject({ code: 'UPSTREAM_IDLE_TIMEOUT', partial: true, attempts: 1 });
    expect(calls).toHaveLength(1);
  });

  it('an abort while events are buffered: the buffered event still comes, then the read rejects at once with the reason', async () => {
    const { answer, calls, stop } = producer({ first: [tokens('a'), 'hang'] });
    expect((await answer.next()).value).toMatchObject({ type: 'route' });
    const reason = new Error('client left');
    stop.abort(reason);
    expect((await answer.next()).value).toEqual({ type: 'tokens', texts: ['a'] });
    await expect(answer.next()).rejects.toBe(reason);
    expect(calls).toHaveLength(1);
    expect(await answer.next()).toEqual({ done: true, value: undefined });
  });

  it('return() while a read waits on a stalled model: the read ends at once and the model call is stopped', async () => {
    const { answer, calls } = producer({ first: [tokens('a'), 'hang'] });
    await answer.next();
    await answer.next();
    const waiting = answer.next();
    await answer.return();
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    expect(calls[0]!.returned).toBe(true);
  });

  it("observes an attempt's pull after its first model read (the upstream request) is made, and before its outcome", async () => {
    const { answer, observed } = producer(
      { first: [new UpstreamError('UPSTREAM_HTTP_ERROR', 'down', { retryable: true, status: 503 })], second: [tokens('ok')] },
      { deferPulls: true },
    );
    const events: AnswerEvent[] = [];
    for await (const event of answer) events.push(event);
    expect(types(events)).toEqual(['route', 'tokens', 'end']);
    expect(observed.map(({ event }) => `${event.type} ${'armId' in event ? event.armId : ''}`)).toEqual([
      'pull first',
      'outcome first',
      'pull second',
      'outcome second',
    ]);
    // Each pull was told once its attempt's model read had been made: one read for the first arm, two with the second's.
    expect(observed.filter(({ event }) => event.type === 'pull').map(({ reads }) => reads)).toEqual([1, 2]);
  });

  it('a pull left for after the write is observed by then, even when nothing else happens in the answer', async () => {
    const { answer, observed } = producer({ first: ['hang'] }, { deferPulls: true });
    const waiting = answer.next();
    expect(observed).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(observed.map(({ event }) => event.type)).toEqual(['pull']);
    await answer.return();
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
  });

  it('when every arm fails before its first token: a route naming the last arm tried, then the failure', async () => {
    const down = () => new UpstreamError('UPSTREAM_HTTP_ERROR', 'down', { retryable: true, status: 503 });
    const { answer } = producer({ first: [down()], second: [down()] });
    const events: AnswerEvent[] = [];
    for await (const event of answer) events.push(event);
    expect(types(events)).toEqual(['route', 'failure']);
    expect(events[0]).toMatchObject({ decision: { armId: 'second' }, attempts: 2 });
    expect(events[1]).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', partial: false, attempts: 2 });
  });
});
