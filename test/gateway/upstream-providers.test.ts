import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatDocument } from '../../src/client/generated/graphql.js';
import { startFakeAnthropic, type FakeAnthropicServer } from '../fakes/anthropic-server.js';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import {
  armsById,
  chat,
  modelsById,
  openaiModel,
  outcomeOf,
  TEST_TIMEOUTS,
  UNCAPPED_SPEND,
  twoModelConfig,
  USER_MESSAGE,
} from '../helpers/upstream.js';

/** Provider variants through the whole gateway: Anthropic, Azure-style deployments, cancellation, shutdown. */

const KEY = 'sk-test-provider-key-0123456789';
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function openai(options: Parameters<typeof startFakeOpenAI>[0] = {}): Promise<FakeOpenAIServer> {
  const fake = await startFakeOpenAI(options);
  closers.push(() => fake.close());
  return fake;
}

async function gatewayWith(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<RunningGateway> {
  const gateway = await startGateway({ config, env });
  closers.push(() => gateway.close());
  return gateway;
}

describe('anthropic through the gateway', () => {
  it('streams, maps the arm system prompt to `system`, and prices the reported usage', async () => {
    const fake: FakeAnthropicServer = await startFakeAnthropic({ script: { tokens: ['Hi', ' there', '!'], inputTokens: 21 } });
    closers.push(() => fake.close());
    const gateway = await gatewayWith(
      {
        logLevel: 'silent',
        models: [
          {
            id: 'claude',
            provider: 'anthropic',
            baseUrl: fake.url,
            model: 'claude-sonnet-5-5',
            apiKeyEnv: 'ANTHROPIC_API_KEY',
            inputPer1k: 3,
            outputPer1k: 15,
            timeouts: TEST_TIMEOUTS,
          },
        ],
        arms: [{ id: 'claude-brief', model: 'claude', systemPrompt: 'Be brief.', maxTokens: 64 }],
        auth: { anonymousLimits: UNCAPPED_SPEND },
        cache: { enabled: false },
        streaming: { pacing: { minMs: 0, maxMs: 0 } },
        shadow: { rate: 0 },
      },
      { ANTHROPIC_API_KEY: KEY },
    );
    const { route, text, terminal } = outcomeOf(await chat(gateway));
    expect(route).toMatchObject({ arm: 'claude-brief', model: 'claude', attempts: 1 });
    expect(text).toBe('Hi there!');
    if (terminal.__typename !== 'ChatDone') throw new Error(JSON.stringify(terminal));
    expect(terminal.metrics).toMatchObject({ promptTokens: 21, completionTokens: 3, tokensEstimated: false });
    expect(terminal.metrics.costUsd).toBeCloseTo((21 * 3 + 3 * 15) / 1000, 12);

    const sent = fake.requests[0]!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe(KEY);
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toMatchObject({
      model: 'claude-sonnet-5-5',
      system: 'Be brief.',
      max_tokens: 64,
      stream: true,
      messages: [{ role: 'user', content: USER_MESSAGE }],
    });
  });

  it('takes what OpenAI takes and the Messages API refuses: temperature past 1, empty turns, a system prompt alone, a prefill ending in a space', async () => {
    const fake = await startFakeAnthropic({ script: { tokens: ['Fine', '.'] } });
    closers.push(() => fake.close());
    const gateway = await gatewayWith({
      logLevel: 'silent',
      models: [{ id: 'claude', provider: 'anthropic', baseUrl: fake.url, model: 'claude-sonnet-5-5', timeouts: TEST_TIMEOUTS }],
      arms: [{ id: 'claude', model: 'claude' }],
      cache: { enabled: false },
      shadow: { rate: 0 },
    });
    const client = new OpenAI({ baseURL: gateway.url.replace(/\/graphql$/, '/v1'), apiKey: 'unused', maxRetries: 0 });
    const cases: Array<{ request: Pick<ChatCompletionCreateParamsNonStreaming, 'messages' | 'temperature'>; sent: Record<string, unknown> }> = [
      { request: { messages: [{ role: 'user', content: 'Be creative.' }], temperature: 1.5 }, sent: { temperature: 1 } },
      {
        request: {
          messages: [
            { role: 'user', content: 'Hello' },
            { role: 'assistant', content: '' },
            { role: 'user', content: [{ type: 'text', text: ' ' }] },
            { role: 'user', content: 'Again' },
          ],
        },
        sent: { messages: [{ role: 'user', content: 'Hello' }, { role: 'user', content: 'Again' }] },
      },
      { request: { messages: [{ role: 'system', content: 'Write a haiku.' }] }, sent: { messages: [{ role: 'user', content: 'Write a haiku.' }] } },
      {
        request: { messages: [{ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'The colour is ' }] },
        sent: { messages: [{ role: 'user', content: 'Name a colour.' }, { role: 'assistant', content: 'The colour is' }] },
      },
    ];
    for (const { request, sent } of cases) {
      const completion = await client.chat.completions.create({ model: 'claude', ...request });
      expect(completion.choices[0]!.message.content).toBe('Fine.');
      expect(fake.requests.at(-1)!.body).toMatchObject(sent);
    }
    expect(fake.requests.at(-2)!.body).not.toHaveProperty('system');
    // Nothing was blamed on the model.
    expect((await modelsById(gateway)).get('claude')).toMatchObject({ status: 'HEALTHY', errorRate: 0 });
  });

  it('an overloaded error event before the first token fails over to an openai arm', async () => {
    const claude = await startFakeAnthropic({ script: { fault: { kind: 'error-event', afterTokens: 0 } } });
    closers.push(() => claude.close());
    const gpt = await openai({ script: { tokens: ['From', ' gpt'] } });
    const gateway = await gatewayWith({
      ...twoModelConfig(gpt.url, gpt.url),
      models: [
        { id: 'claude', provider: 'anthropic', baseUrl: claude.url, model: 'claude-sonnet-5-5', timeouts: TEST_TIMEOUTS },
        openaiModel('gpt', gpt.url),
      ],
      arms: [
        { id: 'claude', model: 'claude' },
        { id: 'gpt', model: 'gpt' },
      ],
    });
    // Pinning would forbid failover, so route until the bandit picks claude first (each request picks
    // it with probability 1/2 while both posteriors are equal: 30 misses have probability 2^-30).
    let failedOver = false;
    for (let i = 0; i < 30 && !failedOver; i++) {
      const { route, text, terminal } = outcomeOf(await chat(gateway));
      expect(route.arm).toBe('gpt');
      expect(text).toBe('From gpt');
      expect(terminal.__typename).toBe('ChatDone');
      failedOver = route.attempts === 2;
    }
    expect(failedOver).toBe(true);
    expect((await armsById(gateway)).get('claude')).toMatchObject({ pulls: 1, posterior: { beta: 2 } });
  });
});

describe('Azure-style and reasoning-model options of the openai backend', () => {
  it('sends the key in apiKeyHeader, adds the query, and names the token limit max_completion_tokens', async () => {
    const fake = await openai();
    const gateway = await gatewayWith(
      {
        ...twoModelConfig(fake.url, fake.url),
        models: [
          openaiModel('azure-gpt', `${fake.url}/openai/deployments/prod-gpt`, {
            apiKeyEnv: 'AZURE_OPENAI_API_KEY',
            apiKeyHeader: 'api-key',
            query: { 'api-version': '2024-10-21' },
            maxTokensField: 'max_completion_tokens',
          }),
        ],
        arms: [{ id: 'azure', model: 'azure-gpt', maxTokens: 3 }],
      },
      { AZURE_OPENAI_API_KEY: KEY },
    );
    const { text, terminal } = outcomeOf(await chat(gateway));
    expect(text).toBe('Hello, world');
    expect(terminal).toMatchObject({ __typename: 'ChatDone', finishReason: 'length' });
    const sent = fake.requests[0]!;
    expect(sent.path).toBe('/v1/openai/deployments/prod-gpt/chat/completions?api-version=2024-10-21');
    expect(sent.headers['api-key']).toBe(KEY);
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body.max_completion_tokens).toBe(3);
    expect(sent.body.max_tokens).toBeUndefined();
  });
});

describe('cancellation and shutdown', () => {
  it('unsubscribing aborts the upstream HTTP request at once, without blaming the model', async () => {
    const tokens = Array.from({ length: 400 }, (_, i) => ` word${i}`);
    const fakeA = await openai({ script: { tokens, tokenDelayMs: 20 } });
    const fakeB = await openai({ script: { tokens, tokenDelayMs: 20 } });
    const gateway = await gatewayWith(twoModelConfig(fakeA.url, fakeB.url));
    const subscription = gateway.client.subscribe(ChatDocument, {
      input: { messages: [{ role: 'USER', content: USER_MESSAGE }], cache: false },
    });
    let arm = '';
    for await (const result of subscription) {
      const event = result.data!.chat;
      if (event.__typename === 'ChatRoute') arm = event.arm;
      // Leaving the loop sends graphql-ws "complete": the client unsubscribes mid-answer.
      if (event.__typename === 'ChatChunk') break;
    }
    const fake = arm === 'a' ? fakeA : fakeB;
    const upstream = fake.requests[0]!;
    // The answer would take 8 s; the socket must close right after the unsubscribe.
    await expect.poll(() => upstream.connectionIsClosed(), { timeout: 2_000, interval: 10 }).toBe(true);
    const models = await modelsById(gateway);
    // Neither a success nor a failure: a client leaving says nothing about the model.
    expect(models.get(`m-${arm}`)).toMatchObject({ requests: 0, failures: 0, status: 'HEALTHY' });
    expect((await armsById(gateway)).get(arm)).toMatchObject({ pulls: 1, posterior: { alpha: 1, beta: 1 } });
  });

  it('stopping the app closes the pooled keep-alive connections to providers', async () => {
    const fake = await openai();
    const gateway = await startGateway({ config: twoModelConfig(fake.url, fake.url) });
    try {
      expect(outcomeOf(await chat(gateway, { arm: 'a' })).terminal.__typename).toBe('ChatDone');
      // Kept alive in the backend's pool after the answer.
      expect(fake.openConnections()).toBe(1);
    } finally {
      await gateway.close();
    }
    await expect.poll(() => fake.openConnections(), { timeout: 2_000, interval: 10 }).toBe(0);
  });
});
