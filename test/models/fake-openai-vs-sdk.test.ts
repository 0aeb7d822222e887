import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';

/** The official SDK is the judge of the fake's wire format: if the SDK reads it, so will we. */
describe('fake OpenAI server, read by the official openai SDK', () => {
  let fake: FakeOpenAIServer;
  let client: OpenAI;

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: 'sk-test-sdk', baseURL: fake.url, maxRetries: 0 });
  });
  afterAll(async () => {
    await fake.close();
  });

  it('streams content, finish_reason and the final usage chunk', async () => {
    fake.enqueue({ tokens: ['Über', ' 日本', ' 🎉'], promptTokens: 9, comment: 'OPENROUTER PROCESSING', splitBytes: 3 });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let content = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let role: string | undefined;
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      const choice = chunk.choices[0];
      if (choice) {
        role ??= choice.delta.role;
        content += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(role).toBe('assistant');
    expect(content).toBe('Über 日本 🎉');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });
    const request = fake.requests.at(-1);
    expect(request?.headers.authorization).toBe('Bearer sk-test-sdk');
    expect(request?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('assembles a final completion with the SDK stream helper', async () => {
    fake.enqueue({ tokens: ['a', 'b', 'c', 'd'] });
    const runner = client.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 2,
    });
    const completion = await runner.finalChatCompletion();
    expect(completion.choices[0]?.message.content).toBe('ab');
    expect(completion.choices[0]?.finish_reason).toBe('length');
  });

  it('answers a non-streaming request with a chat.completion object', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'Hello, world!' });
    expect(completion.usage?.completion_tokens).toBe(4);
  });

  it('sends errors the SDK maps to its typed errors, with the provider message', async () => {
    fake.enqueue({ status: 429, retryAfter: '7', errorMessage: 'Rate limit reached for requests' });
    const error = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const rateLimit = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.message).toContain('Rate limit reached for requests');
    expect(rateLimit.headers.get('retry-after')).toBe('7');

    fake.enqueue({ status: 500 });
    await expect(
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toBeInstanceOf(OpenAI.InternalServerError);
  });

  it('delivers a mid-stream error object the SDK raises as an APIError', async () => {
    fake.enqueue({ fault: { kind: 'error-object', afterTokens: 1, message: 'boom' } });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(seen.join('')).toBe('Hello');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('boom');
  });
});
