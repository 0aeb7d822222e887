import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ChatDocument } from '../../src/client/generated/graphql.js';
import { postGraphQL, startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { startSlowGateway } from '../helpers/slow-gateway.js';

const chatQuery = print(ChatDocument);

async function firstResult(gateway: RunningGateway, variables: Record<string, unknown>) {
  for await (const result of gateway.client.ws.iterate({ query: chatQuery, variables })) return result;
  throw new Error('no result');
}

describe('invalid input', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ config: testConfigInput({ limits: { maxPromptChars: 1_000, maxTokens: 256, defaultMaxTokens: 128 } }) });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const user = (content: string) => [{ role: 'USER', content }];
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['empty messages', { messages: [] }, 'EMPTY_MESSAGES'],
    ['blank content', { messages: user('   ') }, 'EMPTY_CONTENT'],
    ['an unknown arm', { messages: user('hi'), arm: 'nope' }, 'UNKNOWN_ARM'],
    ['maxTokens of 0', { messages: user('hi'), maxTokens: 0 }, 'MAX_TOKENS_OUT_OF_RANGE'],
    ['maxTokens above the limit', { messages: user('hi'), maxTokens: 257 }, 'MAX_TOKENS_OUT_OF_RANGE'],
    ['a prompt over the size limit', { messages: user('x'.repeat(1_001)) }, 'PROMPT_TOO_LARGE'],
    ['a temperature out of range', { messages: user('hi'), temperature: 3 }, 'TEMPERATURE_OUT_OF_RANGE'],
  ];

  it.each(cases)('rejects %s over WebSocket with a code', async (_name, input, code) => {
    const result = await firstResult(gateway, { input });
    expect(result.errors?.[0]?.extensions?.code).toBe(code);
  });

  it.each(cases)('rejects %s over SSE/HTTP with a code', async (_name, input, code) => {
    const body = await postGraphQL(gateway.url, chatQuery, { input });
    expect(body.errors?.[0]?.extensions?.code).toBe(code);
  });

  it('answers a malformed query with a GraphQL error and keeps the socket serving others', async () => {
    const ws = createClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      const bad = ws.iterate({ query: 'subscription { chat(input: { messages: [ }' });
      await expect(bad.next()).rejects.toSatisfy((errors: unknown) =>
        Array.isArray(errors) && /Syntax Error/.test(String((errors[0] as { message: string }).message)),
      );
      const invalid = ws.iterate({ query: 'query { noSuchField }' });
      await expect(invalid.next()).rejects.toSatisfy((errors: unknown) =>
        Array.isArray(errors) && /noSuchField/.test(String((errors[0] as { message: string }).message)),
      );
      // Same socket, still alive.
      let events = 0;
      for await (const result of ws.iterate({ query: chatQuery, variables: { input: { messages: user('still here?') } } })) {
        expect(result.errors).toBeUndefined();
        events++;
      }
      expect(events).toBeGreaterThan(2);
    } finally {
      await ws.dispose();
    }
  });

  it('answers the health check: ok without Redis when none is configured', async () => {
    const health = await fetch(gateway.url.replace('/graphql', '/health'));
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', cache: 'degraded', redis: 'not configured' });
  });

  it('serves GraphiQL wired to the WebSocket protocol', async () => {
    const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/graphiql/i);
    expect(html).toMatch(/"subscriptionsProtocol":"WS"/);
  });
});

describe('cancellation', () => {
  it('closing the WebSocket mid-stream aborts the model call at once', async () => {
    const { gateway, aborted, started } = await startSlowGateway();
    const ws = createClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
    try {
      let chunks = 0;
      let closedAt = 0;
      await new Promise<void>((resolve, reject) => {
        ws.subscribe(
          { query: chatQuery, variables: { input: { messages: [{ role: 'USER', content: 'long answer please' }] } } },
          {
            next: (result) => {
              const chat = (result.data as { chat: { __typename: string } }).chat;
              if (chat.__typename === 'ChatChunk' && ++chunks === 1) {
                closedAt = performance.now();
                void ws.dispose();
                resolve();
              }
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
      await expect.poll(() => aborted.length, { timeout: 2_000 }).toBe(1);
      expect(started()).toBe(1);
      // The answer would take 20 s; the abort must follow the close, not the end of the answer.
      expect(aborted[0]! - closedAt).toBeLessThan(5_000);
      // A client leaving is not the model's fault.
      expect(gateway.app.services.models.view('m-slow').health.failures).toBe(0);
    } finally {
      await gateway.close();
    }
  });
});

describe('cancellation before the first token, through the cache and single flight', () => {
  it('a consumer that leaves while the model has not answered yet aborts the call at once', async () => {
    const { gateway, aborted } = await startSlowGateway(10_000);
    try {
      const stream = gateway.app.services.chat.chat({ messages: [{ role: 'user', content: 'cached path, slow model' }] });
      const pending = stream.next();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const left = performance.now();
      await stream.return(undefined);
      // return() must not wait for the model's first token, ten seconds away.
      expect(performance.now() - left).toBeLessThan(2_000);
      await expect.poll(() => aborted.length, { timeout: 2_000 }).toBe(1);
      await pending.catch(() => undefined);
    } finally {
      await gateway.close();
    }
  });
});

describe('cancellation over SSE', () => {
  it('a client dropping the event stream aborts the model call', async () => {
    const { gateway, aborted } = await startSlowGateway();
    const client = new AbortController();
    try {
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({
          query: chatQuery,
          variables: { input: { messages: [{ role: 'USER', content: 'a long answer over SSE' }] } },
        }),
        signal: client.signal,
      });
      const reader = response.body!.getReader();
      let received = '';
      while (!received.includes('ChatChunk')) {
        const { value } = await reader.read();
        received += new TextDecoder().decode(value);
      }
      client.abort();
      await expect.poll(() => aborted.length, { timeout: 5_000 }).toBe(1);
    } finally {
      await gateway.close();
    }
  });
});

