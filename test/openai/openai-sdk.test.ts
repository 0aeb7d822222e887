import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArmsDocument, RequestDocument } from '../../src/client/generated/graphql.js';
import { createSwitchyardClient } from '../../src/client/switchyard-client.js';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { twoModelConfig } from '../helpers/upstream.js';

/**
 * The official `openai` Node SDK, configured with nothing but baseURL and apiKey, against
 * Switchyard's /v1 in front of two fake OpenAI-format upstreams.
 */

const KEYS = {
  APP_KEY: 'sk-app-5f1c0e2a9b7d4c3e',
  READER_KEY: 'sk-reader-8a6b4c2d0e1f3a5b',
};

describe('the official openai SDK through /v1', () => {
  let upstreamA: FakeOpenAIServer;
  let upstreamB: FakeOpenAIServer;
  let gateway: RunningGateway;
  let openai: OpenAI;
  let baseURL: string;

  beforeAll(async () => {
    upstreamA = await startFakeOpenAI({ script: { tokens: ['Hello', ',', ' world', '!'], promptTokens: 12 } });
    upstreamB = await startFakeOpenAI({ script: { tokens: ['Bonjour', ' le', ' monde'], promptTokens: 9 } });
    gateway = await startGateway({
      config: twoModelConfig(upstreamA.url, upstreamB.url, {
        // Contexts learn alone, so one feedback is exactly one observation in the request's context.
        bandit: { seed: 11, halfLife: 0, hierarchyStrength: 0 },
        auth: {
          keys: [
            { id: 'app', env: 'APP_KEY', scopes: ['chat', 'feedback', 'read', 'pin'] },
            { id: 'reader', env: 'READER_KEY', scopes: ['read'] },
          ],
        },
      }),
      env: KEYS,
    });
    baseURL = gateway.url.replace(/\/graphql$/, '/v1');
    openai = new OpenAI({ baseURL, apiKey: KEYS.APP_KEY });
  });
  afterAll(async () => {
    await gateway?.close();
    await upstreamA?.close();
    await upstreamB?.close();
  });
  beforeEach(() => {
    upstreamA.setScript({ tokens: ['Hello', ',', ' world', '!'], promptTokens: 12 });
  });

  it('answers a whole completion with the request id, usage and finish_reason', async () => {
    const completion = await openai.chat.completions.create({
      model: 'a',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Say hello.' },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('a');
    expect(completion.choices[0]!.message).toMatchObject({ role: 'assistant', content: 'Hello, world!' });
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toEqual({ prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 });
    expect(completion._request_id).toBe(completion.id);
    const upstreamBody = upstreamA.requests.at(-1)!.body;
    expect(upstreamBody.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Say hello.' },
    ]);

    // The id is the request id the GraphQL API knows.
    const graphql = createSwitchyardClient({ url: gateway.wsUrl, connectionParams: { authorization: `Bearer ${KEYS.APP_KEY}` } });
    try {
      const { request } = await graphql.request(RequestDocument, { id: completion.id });
      expect(request).toMatchObject({ id: completion.id, status: 'COMPLETED', arm: 'a' });
    } finally {
      await graphql.dispose();
    }
  });

  it('streams chunks, the finish_reason and a usage chunk when asked, ending with [DONE]', async () => {
    const stream = await openai.chat.completions.create({
      model: 'switchyard/auto',
      messages: [{ role: 'user', content: 'Say hello, streaming.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    const text = chunks.flatMap((c) => c.choices.map((choice) => choice.delta.content ?? '')).join('');
    const arm = chunks[0]!.model;
    expect(text).toBe(arm === 'a' ? 'Hello, world!' : 'Bonjour le monde');
    const finishes = chunks.flatMap((c) => c.choices.map((choice) => choice.finish_reason)).filter(Boolean);
    expect(finishes).toEqual(['stop']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual(arm === 'a' ? { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 } : { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('pins an arm by id and lists the models', async () => {
    const completion = await openai.chat.completions.create({ model: 'b', messages: [{ role: 'user', content: 'Pinned to b.' }] });
    expect(completion.model).toBe('b');
    expect(completion.choices[0]!.message.content).toBe('Bonjour le monde');
    const models = [];
    for await (const model of openai.models.list()) models.push(model.id);
    expect(models).toEqual(['switchyard/auto', 'a', 'b']);
    expect((await openai.models.retrieve('a')).id).toBe('a');
  });

  it('passes tags through the switchyard extension field', async () => {
    const completion = await openai.chat.completions.create({
      model: 'switchyard/auto',
      messages: [{ role: 'user', content: 'Tagged.' }],
      // @ts-expect-error Switchyard's extension field is not in the SDK's types.
      switchyard: { tags: ['support', 'billing'], cache: false },
    });
    expect((completion as unknown as { switchyard: { context: string } }).switchyard.context).toBe('support/billing');
  });

  it('raises the typed errors the SDK maps from status codes', async () => {
    const refused = async (promise: Promise<unknown>) => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(APIError);
      return error as APIError;
    };
    const empty = await refused(openai.chat.completions.create({ model: 'a', messages: [] }));
    expect(empty).toBeInstanceOf(OpenAI.BadRequestError);
    expect(empty).toMatchObject({ status: 400, code: 'EMPTY_MESSAGES', param: 'messages', type: 'invalid_request_error' });

    const unknownModel = await refused(openai.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }));
    expect(unknownModel).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknownModel).toMatchObject({ status: 404, code: 'MODEL_NOT_FOUND', param: 'model' });

    const tools = await refused(
      openai.chat.completions.create({
        model: 'a',
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
      }),
    );
    expect(tools).toBeInstanceOf(OpenAI.BadRequestError);
    expect(tools).toMatchObject({ code: 'UNSUPPORTED_PARAMETER', param: 'tools' });

    const temperature = await refused(
      openai.chat.completions.create({ model: 'a', messages: [{ role: 'user', content: 'x' }], temperature: 3, stream: true }),
    );
    expect(temperature).toMatchObject({ status: 400, code: 'TEMPERATURE_OUT_OF_RANGE', param: 'temperature' });

    const unknownArg = await refused(
      // @ts-expect-error An argument OpenAI does not know either.
      openai.chat.completions.create({ model: 'a', messages: [{ role: 'user', content: 'x' }], frobnicate: true }),
    );
    expect(unknownArg).toMatchObject({ status: 400, code: 'INVALID_REQUEST', param: 'frobnicate' });

    const noKey = await refused(new OpenAI({ baseURL, apiKey: 'sk-not-a-key-of-this-gateway' }).models.list());
    expect(noKey).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(noKey).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });

    const reader = new OpenAI({ baseURL, apiKey: KEYS.READER_KEY });
    const underScoped = await refused(reader.chat.completions.create({ model: 'a', messages: [{ role: 'user', content: 'x' }] }));
    expect(underScoped).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(underScoped).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    // The reader may list models.
    expect((await reader.models.list()).data.length).toBe(3);

    // A body past the size cap is refused before /v1 reads it, still in the shape the SDK reads.
    const content = 'z'.repeat(gateway.config.limits.maxPromptChars * 6 + 1024 * 1024);
    const tooLarge = await refused(openai.chat.completions.create({ model: 'a', messages: [{ role: 'user', content }] }));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge).toMatchObject({ code: 'BODY_TOO_LARGE', type: 'invalid_request_error' });
    expect(tooLarge.message).toMatch(/^413 the request body is larger than \d+ bytes$/);
  });

  it('raises a mid-stream upstream failure as an APIError from the stream', async () => {
    upstreamA.setScript({ tokens: ['one', ' two', ' three', ' four'], fault: { kind: 'destroy', afterTokens: 2 } });
    const stream = await openai.chat.completions.create({ model: 'a', messages: [{ role: 'user', content: 'Fail midway.' }], stream: true });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(text).toBe('one two');
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).error).toMatchObject({ code: 'UPSTREAM_CONNECTION_ERROR', type: 'server_error' });
  });

  it('answers a failure before the first token with an HTTP error status, streaming or not', async () => {
    upstreamA.setScript({ status: 400, errorMessage: 'upstream refused' });
    for (const stream of [false, true]) {
      // No retries: the SDK would retry the 502 twice after its backoff (~3 s here) and end the same way.
      const error = await openai.chat.completions
        .create({ model: 'a', messages: [{ role: 'user', content: `Refused ${stream}` }], stream, switchyard: { cache: false } } as never, { maxRetries: 0 })
        .then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error).toMatchObject({ status: 502, code: 'UPSTREAM_HTTP_ERROR' });
    }
  });

  it('aborting a stream closes the upstream call', async () => {
    upstreamA.setScript({ tokens: Array.from({ length: 60 }, (_, i) => ` t${i}`), tokenDelayMs: 100 });
    const before = upstreamA.requests.length;
    const controller = new AbortController();
    const stream = await openai.chat.completions.create(
      { model: 'a', messages: [{ role: 'user', content: 'A long answer, please.' }], stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    // The SDK ends an aborted stream's loop quietly.
    for await (const _ of stream) {
      chunks += 1;
      if (chunks === 2) controller.abort();
    }
    expect(chunks).toBe(2);
    const upstreamRequest = upstreamA.requests[before]!;
    await upstreamRequest.connectionClosed;
    expect(upstreamRequest.connectionIsClosed()).toBe(true);
  });

  it('takes feedback on its request ids, over /v1/feedback, that moves the posterior', async () => {
    const completion = await openai.chat.completions.create({ model: 'b', messages: [{ role: 'user', content: 'Rate me.' }] });
    const { context } = (completion as unknown as { switchyard: { context: string } }).switchyard;
    const graphql = createSwitchyardClient({ url: gateway.wsUrl, connectionParams: { authorization: `Bearer ${KEYS.APP_KEY}` } });
    const posteriorOfB = async () => (await graphql.request(ArmsDocument, { context })).arms.find((arm) => arm.id === 'b')!.posterior;
    try {
      const before = await posteriorOfB();
      const result = await openai.post<{ learned: boolean; arm: { id: string; posterior: { alpha: number; mean: number } } }>(
        '/feedback',
        { body: { request_id: completion.id, thumbs: 'up' } },
      );
      expect(result).toMatchObject({ learned: true, arm: { id: 'b' } });
      const after = await posteriorOfB();
      // One thumbs-up is one success in the request's context (reward.quality 1, no decay).
      expect(after.alpha).toBeCloseTo(before.alpha + 1, 6);
      expect(after.beta).toBeCloseTo(before.beta, 6);
      expect(after.mean).toBeGreaterThan(before.mean);
      expect(result.arm.posterior.alpha).toBeCloseTo(after.alpha, 6);
    } finally {
      await graphql.dispose();
    }
  });
});

describe('the SDK past a limit', () => {
  let gateway: RunningGateway;
  let baseURL: string;
  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({
        auth: {
          keys: [
            { id: 'paced', env: 'PACED_KEY', scopes: ['chat', 'pin'], limits: { requestsPerMinute: 2 } },
            { id: 'thrifty', env: 'THRIFTY_KEY', scopes: ['chat', 'pin'], limits: { budgetUsdPerDay: 0.000001 } },
          ],
        },
        cache: { enabled: false },
      }),
      env: { PACED_KEY: 'sk-paced-0a1b2c3d4e5f6a7b', THRIFTY_KEY: 'sk-thrifty-9f8e7d6c5b4a3f2e' },
    });
    baseURL = gateway.url.replace(/\/graphql$/, '/v1');
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('gets RateLimitError with retry-after past requestsPerMinute', async () => {
    const openai = new OpenAI({ baseURL, apiKey: 'sk-paced-0a1b2c3d4e5f6a7b' });
    const ask = () => openai.chat.completions.create({ model: 'weak', messages: [{ role: 'user', content: 'hi' }] }, { maxRetries: 0 });
    await ask();
    await ask();
    const error = await ask().then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'RATE_LIMITED', type: 'requests' });
    const retryAfter = Number((error as APIError).headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('gets RateLimitError at once, without retries, once the day budget is spent', async () => {
    const openai = new OpenAI({ baseURL, apiKey: 'sk-thrifty-9f8e7d6c5b4a3f2e' });
    await openai.chat.completions.create({ model: 'best', messages: [{ role: 'user', content: 'spend' }] });
    const error = await openai.chat.completions.create({ model: 'best', messages: [{ role: 'user', content: 'spend more' }] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error).toMatchObject({ status: 429, code: 'BUDGET_EXHAUSTED', type: 'insufficient_quota' });
    expect((error as APIError).headers?.get('x-should-retry')).toBe('false');
  });
});

/**
 * `switchyard.objective` through the SDK. The test arms cost (per 1k output tokens, 40 answer
 * tokens) 0.0002 (weak), 0.001 (fair), 0.004 (good), 0.01 (best); the configured trade-off ignores
 * cost and latency, and feedback has made `best` the clear favourite (Beta(11, 1) against Beta(1, 11)),
 * so without an objective the bandit picks `best`, and a ceiling below its cost must move the request.
 */
describe('the SDK with a per-request objective', () => {
  let gateway: RunningGateway;
  let openai: OpenAI;
  const ask = (content: string, switchyard?: Record<string, unknown>) =>
    openai.chat.completions.create({
      model: 'switchyard/auto',
      messages: [{ role: 'user', content }],
      ...(switchyard ? { switchyard } : {}),
    } as never) as Promise<OpenAI.ChatCompletion>;

  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({
        cache: { enabled: false },
        reward: { cost: 0, latency: 0 },
        bandit: { seed: 7, halfLife: 0, hierarchyStrength: 0 },
      }),
    });
    openai = new OpenAI({ baseURL: gateway.url.replace(/\/graphql$/, '/v1'), apiKey: 'unused-without-client-keys' });
    for (const arm of ['weak', 'fair', 'good', 'best']) {
      for (let i = 0; i < 10; i++) {
        const completion = await openai.chat.completions.create({ model: arm, messages: [{ role: 'user', content: `warm ${arm} ${i}` }] });
        const { feedbackToken } = (completion as unknown as { switchyard: { feedbackToken: string } }).switchyard;
        await openai.post('/feedback', { body: { request_id: completion.id, feedback_token: feedbackToken, thumbs: arm === 'best' ? 'up' : 'down' } });
      }
    }
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('routes under the cost ceiling for that request only', async () => {
    const unconstrained = [];
    const capped = [];
    for (let i = 0; i < 10; i++) {
      unconstrained.push((await ask(`as configured ${i}`)).model);
      // 40 answer tokens plus the prompt at weak's and fair's prices are below $0.00005; good's and best's are not.
      capped.push((await ask(`cheap please ${i}`, { objective: { maxCostUsd: 0.00005 } })).model);
    }
    expect(unconstrained.filter((arm) => arm === 'best').length).toBeGreaterThanOrEqual(9);
    expect(capped.every((arm) => arm === 'weak' || arm === 'fair')).toBe(true);
  });

  it('refuses a bad objective with a 400 in the OpenAI error shape', async () => {
    const refused = (objective: unknown) => ask('x', { objective }).then(() => null, (e: unknown) => e as APIError);
    for (const objective of [{ costWeight: -1 }, { latencyWeight: 1e9 }, { maxCostUsd: 0 }]) {
      const error = await refused(objective);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ status: 400, code: 'INVALID_OBJECTIVE', param: 'switchyard.objective', type: 'invalid_request_error' });
      expect(error!.error).toEqual({ message: expect.stringMatching(/must be/), type: 'invalid_request_error', param: 'switchyard.objective', code: 'INVALID_OBJECTIVE' });
    }
    const notANumber = await refused({ maxCostUsd: 'cheap' });
    expect(notANumber).toMatchObject({ status: 400, code: 'INVALID_REQUEST', param: 'switchyard.objective.maxCostUsd' });
    const unknownField = await refused({ cost: 1 });
    expect(unknownField).toMatchObject({ status: 400, code: 'INVALID_REQUEST', param: 'switchyard.objective.cost' });
  });
});
