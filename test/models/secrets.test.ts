import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { batchesOf } from '../../src/models/backend.js';
import { createAnthropicBackend } from '../../src/models/anthropic-backend.js';
import type { HttpModelBackend } from '../../src/models/http-client.js';
import { createOpenAIBackend } from '../../src/models/openai-backend.js';
import { withStreamTimeouts } from '../../src/models/stream-timeouts.js';
import { startFakeAnthropic, type FakeAnthropicScript, type FakeAnthropicServer } from '../fakes/anthropic-server.js';
import { startFakeOpenAI, type FakeOpenAIScript, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { anthropicConfig, closedPort, collect, openaiConfig } from './helpers.js';

const KEY = 'sk-proj-SECRETvalue0123456789abcdef';
/** The masked form OpenAI's 401 message quotes; still a piece of the key. */
const MASKED = 'sk-proj-****cdef';

/** Everything an error exposes: message, stack, own properties and the whole cause chain. */
function everythingIn(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 10, showHidden: true })];
  let current: unknown = error;
  for (let i = 0; current instanceof Error && i < 10; i++) {
    parts.push(current.message, current.stack ?? '', JSON.stringify(current, Object.getOwnPropertyNames(current)));
    current = current.cause;
  }
  return parts.join('\n');
}

function expectNoSecret(text: string): void {
  expect(text).not.toContain(KEY);
  expect(text).not.toContain('SECRETvalue');
  expect(text).not.toContain(MASKED);
}

// The last test reads the log the others wrote: their order is part of it (also under --sequence.shuffle).
describe('API keys never leak into errors or logs', { shuffle: false }, () => {
  let openaiFake: FakeOpenAIServer;
  let anthropicFake: FakeAnthropicServer;
  const logLines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logLines.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = createLogger('trace', destination);
  const backends: HttpModelBackend[] = [];

  beforeAll(async () => {
    openaiFake = await startFakeOpenAI();
    anthropicFake = await startFakeAnthropic();
  });
  afterAll(async () => {
    await Promise.all(backends.map((b) => b.close()));
    await openaiFake.close();
    await anthropicFake.close();
  });

  // Providers that quote the key back are the worst case: every error text below contains it.
  const echo = `Incorrect API key provided: ${MASKED}. Header was Bearer ${KEY}`;
  const openaiFaults: [string, FakeOpenAIScript][] = [
    ['401', { status: 401, errorMessage: echo }],
    ['429', { status: 429, retryAfter: '1', errorMessage: echo }],
    ['500', { status: 500, errorMessage: echo }],
    ['error object', { fault: { kind: 'error-object', afterTokens: 1, message: echo } }],
    ['malformed', { fault: { kind: 'malformed', afterTokens: 1, line: `data: {"oops": "${KEY}"\n\n` } }],
    ['dropped', { fault: { kind: 'destroy', afterTokens: 1 } }],
    ['stall', { fault: { kind: 'stall', afterTokens: 0 } }],
  ];
  const anthropicFaults: [string, FakeAnthropicScript][] = [
    ['401', { status: 401, errorMessage: echo }],
    ['529', { status: 529, errorMessage: echo }],
    ['error event', { fault: { kind: 'error-event', afterTokens: 0, message: echo } }],
    ['dropped', { fault: { kind: 'destroy', afterTokens: 1 } }],
  ];

  it.each(openaiFaults)('openai %s', async (_name, script) => {
    openaiFake.enqueue(script);
    const backend = createOpenAIBackend(openaiConfig(openaiFake.url), { apiKey: KEY, logger });
    backends.push(backend);
    const { error } = await collect(
      withStreamTimeouts(
        { start: (signal) => batchesOf(backend.stream({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 16, signal: signal.abortSignal })) },
        // Long enough for the first call's connection on a loaded machine, else a timeout would end it
        // before the request (and its key) reached the fake; only the stall case waits for it.
        { firstTokenMs: 2_000, idleMs: 2_000, totalMs: 5_000 },
        new AbortController().signal,
      ),
    );
    expect(error).toBeInstanceOf(Error);
    expect(openaiFake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);
    expectNoSecret(everythingIn(error));
  });

  it.each(anthropicFaults)('anthropic %s', async (_name, script) => {
    anthropicFake.enqueue(script);
    const backend = createAnthropicBackend(anthropicConfig(anthropicFake.url), { apiKey: KEY, logger });
    backends.push(backend);
    const { error } = await collect(
      backend.stream({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 16, signal: new AbortController().signal }),
    );
    expect(error).toBeInstanceOf(Error);
    expect(anthropicFake.requests.at(-1)!.headers['x-api-key']).toBe(KEY);
    expectNoSecret(everythingIn(error));
  });

  it('connection refused', async () => {
    const port = await closedPort();
    const backend = createOpenAIBackend(openaiConfig(`http://127.0.0.1:${port}/v1`), { apiKey: KEY, logger });
    backends.push(backend);
    const { error } = await collect(
      backend.stream({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 16, signal: new AbortController().signal }),
    );
    expect(error).toMatchObject({ code: 'UPSTREAM_CONNECTION_ERROR' });
    expectNoSecret(everythingIn(error));
  });

  it('the captured log output (trace level) holds the failures but no key', () => {
    const output = logLines.join('');
    expect(output).toContain('UPSTREAM_HTTP_ERROR');
    expect(output).toContain('UPSTREAM_CONNECTION_ERROR');
    expectNoSecret(output);
  });
});
