import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSilentLogger } from '../../src/logger.js';
import { batchesOf, UpstreamError, type ChatMessage } from '../../src/models/backend.js';
import type { HttpModelBackend } from '../../src/models/http-client.js';
import { createOpenAIBackend } from '../../src/models/openai-backend.js';
import { withStreamTimeouts } from '../../src/models/stream-timeouts.js';
import { countMessageTokens, countTokens } from '../../src/models/token-counter.js';
import { StopController } from '../../src/stop-signal.js';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { closedPort, collect, openaiConfig, startSilentServer } from './helpers.js';

const messages: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Say hello.' },
];

describe('OpenAI-compatible backend against the fake OpenAI server', () => {
  let fake: FakeOpenAIServer;
  let backend: HttpModelBackend;
  const backends: HttpModelBackend[] = [];

  const make = (overrides: Record<string, unknown> = {}, apiKey: string | null = 'sk-test-key'): HttpModelBackend => {
    const created = createOpenAIBackend(openaiConfig(fake.url, overrides), {
      apiKey: apiKey ?? undefined,
      logger: createSilentLogger(),
    });
    backends.push(created);
    return created;
  };
  const run = (target: HttpModelBackend = backend, signal = new AbortController().signal, maxTokens = 64) =>
    collect(target.stream({ messages, maxTokens, temperature: 0.3, signal }));

  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  beforeAll(() => {
    backend = make({ headers: { 'X-Title': 'switchyard-test' } });
  });
  afterEach(() => {
    fake.setScript({});
  });
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    await fake.close();
  });

  it('streams tokens, then the provider usage, then the finish reason', async () => {
    fake.enqueue({ tokens: ['Hel', 'lo', ' there'], promptTokens: 17 });
    const { events, error } = await run();
    expect(error).toBeUndefined();
    expect(events).toEqual([
      { type: 'token', text: 'Hel' },
      { type: 'token', text: 'lo' },
      { type: 'token', text: ' there' },
      { type: 'usage', promptTokens: 17, completionTokens: 3, estimated: false },
      { type: 'finish', reason: 'stop' },
    ]);
  });

  it('sends the documented request: body, bearer key, extra headers', async () => {
    await run();
    const request = fake.requests.at(-1)!;
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe('Bearer sk-test-key');
    expect(request.headers['x-title']).toBe('switchyard-test');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toEqual({
      model: 'gpt-4o-mini',
      messages,
      max_tokens: 64,
      temperature: 0.3,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('sends no Authorization header without a key (local servers)', async () => {
    await run(make({}, null));
    expect(fake.requests.at(-1)!.headers.authorization).toBeUndefined();
  });

  it('reports finish_reason "length" when max_tokens cut the answer', async () => {
    fake.enqueue({ tokens: ['a', 'b', 'c'] });
    const { text, events } = await run(backend, new AbortController().signal, 2);
    expect(text).toBe('ab');
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'length' });
  });

  it('counts tokens with the tokenizer when the provider reports no usage, and says so', async () => {
    fake.enqueue({ tokens: ['Hello', ', wonderful', ' world'], omitUsage: true });
    const { events } = await run();
    expect(events.find((e) => e.type === 'usage')).toEqual({
      type: 'usage',
      promptTokens: await countMessageTokens(messages),
      completionTokens: await countTokens('Hello, wonderful world'),
      estimated: true,
    });
  });

  it('parses events split into 1-byte reads, multi-byte characters included, and skips comments', async () => {
    fake.enqueue({ tokens: ['Grüße', ' 日本語', ' 🎉'], splitBytes: 1, comment: 'keep-alive' });
    const { text, error } = await run();
    expect(error).toBeUndefined();
    expect(text).toBe('Grüße 日本語 🎉');
  });

  it('reuses pooled keep-alive connections for consecutive requests', async () => {
    const own = make();
    const before = fake.requests.length;
    for (let i = 0; i < 6; i++) expect((await run(own)).error).toBeUndefined();
    const connections = new Set(fake.requests.slice(before).map((r) => r.connectionId));
    // undici returns a socket to the pool a tick after the body ends, so a request sent at once
    // may open a second connection; without pooling there would be six.
    expect(connections.size).toBeLessThanOrEqual(2);
  });

  it('maps 429 to a retryable UPSTREAM_RATE_LIMITED with Retry-After in seconds or as a date', async () => {
    fake.enqueue({ status: 429, retryAfter: '3', errorMessage: 'Rate limit reached' });
    const seconds = (await run()).error;
    expect(seconds).toBeInstanceOf(UpstreamError);
    expect(seconds).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', retryable: true, status: 429, retryAfterMs: 3000 });
    expect((seconds as Error).message).toContain('Rate limit reached');

    const at = new Date(Date.now() + 60_000).toUTCString();
    fake.enqueue({ status: 429, retryAfter: at });
    const dated = (await run()).error as UpstreamError;
    expect(dated.code).toBe('UPSTREAM_RATE_LIMITED');
    // HTTP dates have 1 s resolution: the wait lies between 59 and 60 s.
    expect(dated.retryAfterMs).toBeGreaterThan(58_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('maps 5xx to a retryable UPSTREAM_HTTP_ERROR and other 4xx to a final one with the provider text', async () => {
    fake.enqueue({ status: 500 }, { status: 503 }, { status: 400, errorMessage: "'messages' must not be empty" });
    expect((await run()).error).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', retryable: true, status: 500 });
    expect((await run()).error).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', retryable: true, status: 503 });
    const badRequest = (await run()).error as UpstreamError;
    expect(badRequest).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', retryable: false, status: 400 });
    expect(badRequest.message).toContain("'messages' must not be empty");
  });

  it('maps a refused connection to a retryable UPSTREAM_CONNECTION_ERROR', async () => {
    const port = await closedPort();
    const refused = createOpenAIBackend(openaiConfig(`http://127.0.0.1:${port}/v1`), { logger: createSilentLogger() });
    backends.push(refused);
    const { error } = await run(refused);
    expect(error).toMatchObject({ code: 'UPSTREAM_CONNECTION_ERROR', retryable: true });
  });

  it('maps a connection dropped before the first token to a retryable error, after it to a final one', async () => {
    fake.enqueue({ fault: { kind: 'destroy', afterTokens: 0 } }, { fault: { kind: 'destroy', afterTokens: 2 } });
    expect((await run()).error).toMatchObject({ code: 'UPSTREAM_CONNECTION_ERROR', retryable: true });
    const midStream = await run();
    expect(midStream.text).toBe('Hello,');
    expect(midStream.error).toMatchObject({ code: 'UPSTREAM_CONNECTION_ERROR', retryable: false });
  });

  it('fails on a malformed data line with UPSTREAM_PROTOCOL_ERROR instead of skipping content', async () => {
    fake.enqueue({ fault: { kind: 'malformed', afterTokens: 1 } });
    const { text, error } = await run();
    expect(text).toBe('Hello');
    expect(error).toMatchObject({ code: 'UPSTREAM_PROTOCOL_ERROR', retryable: false });
  });

  it('maps a mid-stream {"error": ...} object to UPSTREAM_ERROR with its message', async () => {
    fake.enqueue({ fault: { kind: 'error-object', afterTokens: 0, message: 'The model is overloaded' } });
    const { error } = await run();
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: true });
    expect((error as Error).message).toContain('The model is overloaded');
  });

  it('abort through request.signal closes the upstream connection at once', async () => {
    fake.enqueue({ fault: { kind: 'stall', afterTokens: 1 } });
    const controller = new AbortController();
    const stream = backend.stream({ messages, maxTokens: 64, signal: controller.signal })[Symbol.asyncIterator]();
    expect(await stream.next()).toEqual({ done: false, value: { type: 'token', text: 'Hello' } });
    const request = fake.requests.at(-1)!;
    const pending = stream.next();
    controller.abort(new Error('client left'));
    await expect(pending).rejects.toThrow('client left');
    // The fake would stall forever; only a closed socket ends this wait (vitest's timeout guards it).
    await request.connectionClosed;
    expect(request.connectionIsClosed()).toBe(true);
  });

  it('abort through request.stop alone (no Node AbortSignal is made) closes the upstream connection at once', async () => {
    fake.enqueue({ fault: { kind: 'stall', afterTokens: 1 } });
    const stop = new StopController();
    const request = {
      messages,
      maxTokens: 64,
      stop,
      // The model manager's requests make this only when read: an HTTP backend hands undici the stop itself.
      get signal(): AbortSignal {
        throw new Error('the Node AbortSignal was asked for');
      },
    };
    const stream = backend.stream(request)[Symbol.asyncIterator]();
    expect(await stream.next()).toEqual({ done: false, value: { type: 'token', text: 'Hello' } });
    const upstream = fake.requests.at(-1)!;
    const pending = stream.next();
    stop.abort(new Error('client left'));
    await expect(pending).rejects.toThrow('client left');
    await upstream.connectionClosed;
    expect(upstream.connectionIsClosed()).toBe(true);
  });

  it('a stop aborted before the request is made fails it with the stop\'s reason, without a request', async () => {
    const before = fake.requests.length;
    const stop = new StopController();
    stop.abort(new Error('gone already'));
    const { error } = await collect(backend.stream({ messages, maxTokens: 64, stop, signal: new AbortController().signal }));
    expect((error as Error).message).toBe('gone already');
    expect(fake.requests.length).toBe(before);
  });

  it('a consumer that stops reading (return) closes the upstream connection', async () => {
    fake.enqueue({ tokens: ['a', 'b', 'c'], tokenDelayMs: 50, fault: { kind: 'stall', afterTokens: 2 } });
    for await (const event of backend.stream({ messages, maxTokens: 64, signal: new AbortController().signal })) {
      expect(event).toEqual({ type: 'token', text: 'a' });
      break;
    }
    await fake.requests.at(-1)!.connectionClosed;
  });

  it('with stream timeouts: a stall before the first token is a retryable UPSTREAM_FIRST_TOKEN_TIMEOUT and the socket closes', async () => {
    fake.enqueue({ fault: { kind: 'stall', afterTokens: 0 } });
    const signal = new AbortController().signal;
    const { error } = await collect(
      withStreamTimeouts(
        { start: (child) => batchesOf(backend.stream({ messages, maxTokens: 64, signal: child.abortSignal })) },
        { firstTokenMs: 150, idleMs: 10_000, totalMs: 10_000 },
        signal,
      ),
    );
    expect(error).toMatchObject({ code: 'UPSTREAM_FIRST_TOKEN_TIMEOUT', retryable: true });
    await fake.requests.at(-1)!.connectionClosed;
  });

  it('with stream timeouts: a stall mid-stream is a final UPSTREAM_IDLE_TIMEOUT after the tokens, and the socket closes', async () => {
    fake.enqueue({ fault: { kind: 'stall', afterTokens: 2 } });
    const { text, error } = await collect(
      withStreamTimeouts(
        { start: (child) => batchesOf(backend.stream({ messages, maxTokens: 64, signal: child.abortSignal })) },
        { firstTokenMs: 10_000, idleMs: 150, totalMs: 10_000 },
        new AbortController().signal,
      ),
    );
    expect(text).toBe('Hello,');
    expect(error).toMatchObject({ code: 'UPSTREAM_IDLE_TIMEOUT', retryable: false });
    await fake.requests.at(-1)!.connectionClosed;
  });

  it('maps a connect (TCP + TLS handshake) that exceeds connectMs to UPSTREAM_CONNECT_TIMEOUT', async () => {
    const silent = await startSilentServer();
    try {
      const slow = createOpenAIBackend(
        openaiConfig(`https://127.0.0.1:${silent.port}/v1`, { timeouts: { connectMs: 100 } }),
        { logger: createSilentLogger() },
      );
      backends.push(slow);
      const { error } = await run(slow);
      expect(error).toMatchObject({ code: 'UPSTREAM_CONNECT_TIMEOUT', retryable: true });
    } finally {
      await silent.close();
    }
  });
});

/**
 * A server that writes a whole event stream in one write, so that (on loopback) it reaches the
 * backend in one read: what the backend does with every token of one read.
 */
describe('OpenAI-compatible backend: the events of one network read', () => {
  const chunk = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;
  let server: Server;
  let body = '';
  let backend: HttpModelBackend;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    backend = createOpenAIBackend(openaiConfig(`http://127.0.0.1:${port}/v1`), { logger: createSilentLogger() });
  });
  afterAll(async () => {
    await backend.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('hands over every token of one read in one batch', async () => {
    const tokens = Array.from({ length: 30 }, (_, i) => ` t${i}`);
    body = tokens.map(chunk).join('') + `data: ${JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 30 } })}\n\ndata: [DONE]\n\n`;
    const batches: string[][] = [];
    for await (const batch of batchesOf(backend.stream({ messages, maxTokens: 64, signal: new AbortController().signal }))) {
      batches.push(batch.map((e) => e.type));
    }
    // One read: its 30 tokens in one batch; then usage and finish together.
    expect(batches).toEqual([Array(30).fill('token'), ['usage', 'finish']]);
  });

  it('an error event after tokens in the same read: the tokens first, then a final (not retryable) error', async () => {
    body = [' Hello', ' world'].map(chunk).join('') + `data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n`;
    const { events, error } = await collect(backend.stream({ messages, maxTokens: 64, signal: new AbortController().signal }));
    expect(events).toEqual([
      { type: 'token', text: ' Hello' },
      { type: 'token', text: ' world' },
    ]);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: false });
  });

  it('an error event before any token in the read stays retryable', async () => {
    body = `data: ${JSON.stringify({ error: { message: 'overloaded', type: 'server_error' } })}\n\n` + chunk(' late');
    const { events, error } = await collect(backend.stream({ messages, maxTokens: 64, signal: new AbortController().signal }));
    expect(events).toEqual([]);
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: true });
  });
});
