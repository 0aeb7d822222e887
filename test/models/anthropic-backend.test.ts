import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/logger.js';
import type { ChatMessage } from '../../src/models/backend.js';
import { createAnthropicBackend } from '../../src/models/anthropic-backend.js';
import type { HttpModelBackend } from '../../src/models/http-client.js';
import { startFakeAnthropic, type FakeAnthropicServer } from '../fakes/anthropic-server.js';
import { anthropicConfig, collect } from './helpers.js';

const messages: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello.' },
  { role: 'system', content: 'Answer in English.' },
  { role: 'user', content: 'How are you?' },
];

describe('Anthropic backend against the fake Messages API', () => {
  let fake: FakeAnthropicServer;
  let backend: HttpModelBackend;
  const run = (maxTokens = 64, signal = new AbortController().signal) =>
    collect(backend.stream({ messages, maxTokens, temperature: 0.5, signal }));

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    backend = createAnthropicBackend(anthropicConfig(fake.url, { headers: { 'anthropic-beta': 'test-beta' } }), {
      apiKey: 'sk-ant-test-key',
      logger: createSilentLogger(),
    });
  });
  afterAll(async () => {
    await backend.close();
    await fake.close();
  });

  it('streams text deltas, usage from message_start/message_delta and a normalised stop reason', async () => {
    fake.enqueue({ tokens: ['Fine', ', thanks', '.'], inputTokens: 33 });
    const { events, error } = await run();
    expect(error).toBeUndefined();
    expect(events).toEqual([
      { type: 'token', text: 'Fine' },
      { type: 'token', text: ', thanks' },
      { type: 'token', text: '.' },
      { type: 'usage', promptTokens: 33, completionTokens: 3, estimated: false },
      { type: 'finish', reason: 'stop' },
    ]);
  });

  it('sends x-api-key, anthropic-version and the system prompt lifted out of messages', async () => {
    await run();
    const request = fake.requests.at(-1)!;
    expect(request.path).toBe('/v1/messages');
    expect(request.headers['x-api-key']).toBe('sk-ant-test-key');
    expect(request.headers['anthropic-version']).toBe('2023-06-01');
    expect(request.headers['anthropic-beta']).toBe('test-beta');
    expect(request.headers.authorization).toBeUndefined();
    expect(request.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      system: 'You are terse.\n\nAnswer in English.',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'How are you?' },
      ],
      temperature: 0.5,
      stream: true,
    });
  });

  it('maps max_tokens to finish "length"', async () => {
    fake.enqueue({ tokens: ['a', 'b', 'c'] });
    const { text, events } = await run(2);
    expect(text).toBe('ab');
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'length' });
  });

  it('handles events split into 1-byte reads', async () => {
    fake.enqueue({ tokens: ['Grüße', ' 🎉'], splitBytes: 1 });
    expect((await run()).text).toBe('Grüße 🎉');
  });

  it('maps an overloaded_error event before any token to a retryable UPSTREAM_ERROR', async () => {
    fake.enqueue({ fault: { kind: 'error-event', afterTokens: 0 } });
    const { error } = await run();
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: true });
    expect((error as Error).message).toContain('overloaded_error');
  });

  it('an error event after tokens, or a non-transient one, is final', async () => {
    fake.enqueue(
      { fault: { kind: 'error-event', afterTokens: 1 } },
      { fault: { kind: 'error-event', afterTokens: 0, type: 'invalid_request_error', message: 'bad' } },
    );
    const after = await run();
    expect(after.text).toBe('Hi');
    expect(after.error).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: false });
    expect((await run()).error).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: false });
  });

  it('maps 529 overloaded and 5xx to retryable HTTP errors, 429 with Retry-After, other 4xx final', async () => {
    fake.enqueue(
      { status: 529 },
      { status: 429, retryAfter: '12' },
      { status: 400, errorMessage: 'max_tokens: Field required' },
    );
    expect((await run()).error).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', retryable: true, status: 529 });
    expect((await run()).error).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', retryable: true, retryAfterMs: 12_000 });
    const bad = (await run()).error as Error;
    expect(bad).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', retryable: false, status: 400 });
    expect(bad.message).toContain('invalid_request_error: max_tokens: Field required');
  });

  it('maps malformed event data to UPSTREAM_PROTOCOL_ERROR and a dropped connection to UPSTREAM_CONNECTION_ERROR', async () => {
    fake.enqueue({ fault: { kind: 'malformed', afterTokens: 1 } }, { fault: { kind: 'destroy', afterTokens: 0 } });
    expect((await run()).error).toMatchObject({ code: 'UPSTREAM_PROTOCOL_ERROR', retryable: false });
    expect((await run()).error).toMatchObject({ code: 'UPSTREAM_CONNECTION_ERROR', retryable: true });
  });

  it('abort through request.signal closes the upstream connection at once', async () => {
    fake.enqueue({ fault: { kind: 'stall', afterTokens: 1 } });
    const controller = new AbortController();
    const iterator = backend.stream({ messages, maxTokens: 64, signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual({ type: 'token', text: 'Hi' });
    const pending = iterator.next();
    controller.abort(new Error('gone'));
    await expect(pending).rejects.toThrow('gone');
    await fake.requests.at(-1)!.connectionClosed;
  });
});
