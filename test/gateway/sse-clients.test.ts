import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { print } from 'graphql';
import { createClient } from 'graphql-sse';
import { ChatDocument, type ChatSubscription } from '../../src/client/generated/graphql.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

/** SSE as real clients speak it: the graphql-sse client (distinct connections) and a plain GET. */
describe('chat over SSE with real clients', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const variables = { input: { messages: [{ role: 'USER', content: 'SSE, please' }], cache: false } };

  it('streams with the graphql-sse client', async () => {
    const client = createClient({ url: gateway.url, singleConnection: false, retryAttempts: 0 });
    try {
      const types: string[] = [];
      for await (const result of client.iterate<ChatSubscription>({ query: print(ChatDocument), variables })) {
        expect(result.errors).toBeUndefined();
        types.push(result.data!.chat.__typename);
      }
      expect(types[0]).toBe('ChatRoute');
      expect(types.at(-1)).toBe('ChatDone');
      expect(types.slice(1, -1).every((t) => t === 'ChatChunk')).toBe(true);
    } finally {
      client.dispose();
    }
  });

  it('streams to a GET request, as EventSource sends it', async () => {
    const url = new URL(gateway.url);
    url.searchParams.set('query', print(ChatDocument));
    url.searchParams.set('variables', JSON.stringify(variables));
    const response = await fetch(url, { headers: { accept: 'text/event-stream' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const body = await response.text();
    const events = body
      .split('\n\n')
      .filter((block) => block.includes('event: next'))
      .map((block) => JSON.parse(block.split('\n').find((l) => l.startsWith('data:'))!.slice(5)) as { data: ChatSubscription });
    expect(events[0]!.data.chat.__typename).toBe('ChatRoute');
    expect(events.at(-1)!.data.chat.__typename).toBe('ChatDone');
    expect(body).toContain('event: complete');
  });
});
