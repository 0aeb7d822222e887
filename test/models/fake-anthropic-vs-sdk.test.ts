import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropicServer } from '../fakes/anthropic-server.js';

/** The official SDK is the judge of the fake's wire format: if the SDK reads it, so will we. */
describe('fake Anthropic server, read by the official @anthropic-ai/sdk', () => {
  let fake: FakeAnthropicServer;
  let client: Anthropic;

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    // The SDK appends /v1/messages itself.
    client = new Anthropic({ apiKey: 'sk-ant-test-sdk', baseURL: fake.url.replace(/\/v1$/, ''), maxRetries: 0 });
  });
  afterAll(async () => {
    await fake.close();
  });

  it('streams raw events in the documented order, with text deltas and usage', async () => {
    fake.enqueue({ tokens: ['Über', ' 日本', ' 🎉'], inputTokens: 17, splitBytes: 5 });
    const stream = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 64,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const types: string[] = [];
    let text = '';
    let inputTokens: number | undefined;
    let outputTokens: number | undefined;
    let stopReason: string | null | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'message_start') inputTokens = event.message.usage.input_tokens;
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') {
        outputTokens = event.usage.output_tokens;
        stopReason = event.delta.stop_reason;
      }
    }
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(text).toBe('Über 日本 🎉');
    expect(inputTokens).toBe(17);
    expect(outputTokens).toBe(3);
    expect(stopReason).toBe('end_turn');
    const request = fake.requests.at(-1)!;
    expect(request.path).toBe('/v1/messages');
    // SDK 1.x speaks API version 2026-10-21 and sends the key as a bearer token; earlier versions
    // (and Switchyard's backend, with anthropic-version 2023-06-01) send x-api-key. The fake takes both.
    const key = request.headers['x-api-key'] ?? request.headers.authorization?.replace(/^Bearer /, '');
    expect(key).toBe('sk-ant-test-sdk');
    expect(request.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(request.body).toMatchObject({ stream: true, system: 'Be brief.', max_tokens: 64 });
  });

  it('assembles the final message with the SDK stream helper', async () => {
    fake.enqueue({ tokens: ['a', 'b', 'c', 'd'] });
    const message = await client.messages
      .stream({ model: 'claude-sonnet-5-5', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(message.content).toEqual([expect.objectContaining({ type: 'text', text: 'ab' })]);
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage).toMatchObject({ input_tokens: 21, output_tokens: 2 });
  });

  it('sends error bodies the SDK maps to its typed errors', async () => {
    fake.enqueue({ status: 429, retryAfter: '3', errorMessage: 'Number of requests has exceeded your rate limit' });
    const rateLimited = await client.messages
      .create({ model: 'claude-sonnet-5-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }], stream: true })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(rateLimited).toBeInstanceOf(Anthropic.RateLimitError);
    const error = rateLimited as InstanceType<typeof Anthropic.RateLimitError>;
    expect(error.message).toContain('exceeded your rate limit');
    expect(error.headers?.get('retry-after')).toBe('3');

    fake.enqueue({ status: 529 });
    const overloaded = await client.messages
      .create({ model: 'claude-sonnet-5-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(overloaded).toBeInstanceOf(Anthropic.APIError);
    expect((overloaded as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((overloaded as Error).message).toContain('overloaded_error');
  });

  it('delivers a mid-stream error event the SDK raises as an APIError', async () => {
    fake.enqueue({ fault: { kind: 'error-event', afterTokens: 1, message: 'Overloaded right now' } });
    const stream = await client.messages.create({
      model: 'claude-sonnet-5-5',
      max_tokens: 8,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    let text = '';
    const error = await (async () => {
      for await (const event of stream) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      }
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(text).toBe('Hi');
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as Error).message).toContain('Overloaded right now');
  });
});
