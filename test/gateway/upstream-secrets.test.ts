import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { print } from 'graphql';
import { ArmsDocument, ChatDocument, ModelsDocument, RequestDocument } from '../../src/client/generated/graphql.js';
import { startFakeAnthropic, type FakeAnthropicScript, type FakeAnthropicServer } from '../fakes/anthropic-server.js';
import { startFakeOpenAI, type FakeOpenAIScript, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { createCapturingLogger, postGraphQL, startGateway, subscribeSse, type RunningGateway } from '../helpers/gateway.js';
import { chat, openaiModel, TEST_TIMEOUTS } from '../helpers/upstream.js';

/**
 * API keys and Authorization headers never reach a GraphQL response (errors included) or a log
 * line, whatever the upstream fault, even when the provider echoes the key back in its error.
 */

const OPENAI_KEY = 'sk-proj-SWITCHYARDsecretKEY0123456789abcdef';
const AZURE_KEY = 'azure0secret0key0abcdef0123456789';
const ANTHROPIC_KEY = 'sk-ant-api03-SWITCHYARDsecretANTHROPIC987654321';
const KEYS = [OPENAI_KEY, AZURE_KEY, ANTHROPIC_KEY];
/** Distinctive pieces of each key: a truncated or masked echo must not leak either. */
const FRAGMENTS = KEYS.map((key) => key.slice(8, 24));

const echoing = (key: string) => `Incorrect API key provided: ${key}. Authorization: Bearer ${key}`;

const OPENAI_FAULTS: FakeOpenAIScript[] = [
  { status: 401, errorMessage: echoing(OPENAI_KEY) },
  { status: 500, errorMessage: echoing(OPENAI_KEY) },
  { status: 429, retryAfter: '0', errorMessage: echoing(OPENAI_KEY) },
  { fault: { kind: 'error-object', afterTokens: 0, message: echoing(OPENAI_KEY) } },
  { fault: { kind: 'error-object', afterTokens: 1, message: echoing(OPENAI_KEY) } },
  { fault: { kind: 'malformed', afterTokens: 1, line: `data: {"echo": "${OPENAI_KEY}"\n\n` } },
  { fault: { kind: 'destroy', afterTokens: 1 } },
  { fault: { kind: 'stall', afterTokens: 0 } },
  { fault: { kind: 'stall', afterTokens: 1 } },
  {},
];
const ANTHROPIC_FAULTS: FakeAnthropicScript[] = [
  { status: 401, errorMessage: echoing(ANTHROPIC_KEY) },
  { status: 529, errorMessage: echoing(ANTHROPIC_KEY) },
  { fault: { kind: 'error-event', afterTokens: 1, message: echoing(ANTHROPIC_KEY) } },
  { fault: { kind: 'malformed', afterTokens: 0 } },
  { fault: { kind: 'destroy', afterTokens: 0 } },
  { fault: { kind: 'stall', afterTokens: 1 } },
  {},
];

describe('secrets never leave the process', () => {
  let openai: FakeOpenAIServer;
  let azure: FakeOpenAIServer;
  let anthropic: FakeAnthropicServer;
  let gateway: RunningGateway;
  const { logger, lines } = createCapturingLogger('trace');
  /** Every GraphQL response body the clients received, serialised. */
  const responses: string[] = [];

  beforeAll(async () => {
    openai = await startFakeOpenAI();
    azure = await startFakeOpenAI();
    anthropic = await startFakeAnthropic();
    // A generous breaker: the fault series must reach the provider every time.
    const circuit = { failureThreshold: 100, openMs: 1_000 };
    gateway = await startGateway({
      logger,
      env: { OPENAI_API_KEY: OPENAI_KEY, AZURE_OPENAI_API_KEY: AZURE_KEY, ANTHROPIC_API_KEY: ANTHROPIC_KEY },
      config: {
        logLevel: 'trace',
        models: [
          openaiModel('gpt', openai.url, { apiKeyEnv: 'OPENAI_API_KEY', circuit }),
          openaiModel('azure', azure.url, {
            apiKeyEnv: 'AZURE_OPENAI_API_KEY',
            apiKeyHeader: 'api-key',
            query: { 'api-version': '2024-10-21' },
            circuit,
          }),
          {
            id: 'claude',
            provider: 'anthropic',
            baseUrl: anthropic.url,
            model: 'claude-sonnet-5-5',
            apiKeyEnv: 'ANTHROPIC_API_KEY',
            timeouts: TEST_TIMEOUTS,
            circuit,
          },
        ],
        arms: [
          { id: 'gpt', model: 'gpt' },
          { id: 'azure', model: 'azure' },
          { id: 'claude', model: 'claude' },
        ],
        cache: { enabled: false },
        streaming: { pacing: { minMs: 0, maxMs: 0 } },
        shadow: { rate: 0 },
      },
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await Promise.all([openai?.close(), azure?.close(), anthropic?.close()]);
  });

  it('keeps keys out of every response and log line across all fault kinds', async () => {
    const requestIds: string[] = [];
    const run = async (arm: string) => {
      const events = await chat(gateway, { arm });
      responses.push(JSON.stringify(events));
      const id = events[0] && 'requestId' in events[0] ? events[0].requestId : undefined;
      if (id) requestIds.push(id);
      return events;
    };
    for (const fault of OPENAI_FAULTS) {
      openai.enqueue(fault);
      azure.enqueue(fault);
      await run('gpt');
      await run('azure');
    }
    for (const fault of ANTHROPIC_FAULTS) {
      anthropic.enqueue(fault);
      await run('claude');
    }
    // The SSE transport too, with an error the provider echoes the key in.
    openai.enqueue({ status: 401, errorMessage: echoing(OPENAI_KEY) });
    const sse = await subscribeSse(gateway.url, print(ChatDocument), {
      input: { messages: [{ role: 'USER', content: 'hi' }], arm: 'gpt', cache: false },
    });
    responses.push(JSON.stringify(sse));
    expect(JSON.stringify(sse)).toContain('UPSTREAM_HTTP_ERROR');
    for (const document of [ModelsDocument, ArmsDocument]) {
      responses.push(JSON.stringify(await postGraphQL(gateway.url, print(document))));
    }
    for (const id of requestIds) {
      responses.push(JSON.stringify(await postGraphQL(gateway.url, print(RequestDocument), { id })));
    }

    // The keys were really sent, each the way its provider expects...
    expect(openai.requests[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(azure.requests[0]!.headers['api-key']).toBe(AZURE_KEY);
    expect(anthropic.requests[0]!.headers['x-api-key']).toBe(ANTHROPIC_KEY);
    // ...the providers' error texts did reach the client (redacted), and the failures were logged...
    const all = responses.join('\n');
    expect(all).toContain('Incorrect API key provided');
    expect(all).toContain('[redacted]');
    expect(lines.some((line) => line.includes('UPSTREAM_HTTP_ERROR'))).toBe(true);
    expect(lines.some((line) => line.includes('"level":20'))).toBe(true);

    // ...yet neither responses nor logs hold a key, a piece of one, or an Authorization header.
    const logs = lines.join('\n');
    for (const text of [all, logs]) {
      for (const secret of [...KEYS, ...FRAGMENTS]) expect(text).not.toContain(secret);
      // No request headers dumped anywhere (a header object would show these as JSON keys)...
      expect(text).not.toMatch(/"(authorization|x-api-key|api-key)"\s*:/i);
      // ...and the echoed "Authorization: Bearer <key>" arrives only as "Bearer [redacted]".
      expect(text).not.toMatch(/Bearer (?!\[redacted\])/);
    }
  });
});
