import { ApolloClient, HttpLink, InMemoryCache, type OperationVariables, type TypedDocumentNode } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Client as UrqlClient, fetchExchange, subscriptionExchange } from '@urql/core';
import { print } from 'graphql';
import { ClientError, GraphQLClient } from 'graphql-request';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { onEnd, pipe, subscribe } from 'wonka';
import WebSocket from 'ws';
import {
  ArmsDocument,
  ChatDocument,
  SubmitFeedbackDocument,
  type ChatSubscription,
  type ChatSubscriptionVariables,
} from '../../src/client/generated/graphql.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startSlowGateway } from '../helpers/slow-gateway.js';

/**
 * Each client setup README lists, driven through the real library against a real gateway: the
 * whole event sequence arrives, feedback teaches, errors carry codes, and leaving mid-stream stops
 * the model call.
 */

type ChatEvent = ChatSubscription['chat'];
const chatInput = (content: string): ChatSubscriptionVariables => ({
  input: { messages: [{ role: 'USER', content }], cache: false },
});

function expectWholeChat(events: readonly ChatEvent[]): void {
  expect(events[0]?.__typename).toBe('ChatRoute');
  expect(events.at(-1)?.__typename).toBe('ChatDone');
  const middle = events.slice(1, -1);
  expect(middle.length).toBeGreaterThan(0);
  expect(middle.every((e) => e.__typename === 'ChatChunk')).toBe(true);
  // Every event belongs to the one request the route announced.
  expect(new Set(events.map((e) => e.requestId)).size).toBe(1);
}

/** Apollo's subscribe() as a promise of every event, in order. */
function apolloChat(client: ApolloClient, variables: ChatSubscriptionVariables): Promise<ChatEvent[]> {
  return new Promise((resolve, reject) => {
    const events: ChatEvent[] = [];
    client
      .subscribe({ query: ChatDocument as TypedDocumentNode<ChatSubscription, OperationVariables>, variables })
      .subscribe({
        next: (result) => (result.error ? reject(result.error) : events.push(result.data!.chat)),
        error: reject,
        complete: () => resolve(events),
      });
  });
}

describe('third-party GraphQL clients', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await gateway?.close();
  });

  describe('Apollo Client', () => {
    it('streams a chat over HttpLink alone (multipart subscriptions), then learns from its feedback mutation', async () => {
      const client = new ApolloClient({ link: new HttpLink({ uri: gateway.url }), cache: apolloCache() });
      const events = await apolloChat(client, chatInput('Apollo over multipart'));
      expectWholeChat(events);

      const route = events[0] as Extract<ChatEvent, { __typename: 'ChatRoute' }>;
      const feedback = await client.mutate({
        mutation: SubmitFeedbackDocument,
        variables: { input: { requestId: route.requestId, feedbackToken: route.feedbackToken, thumbs: 'UP' } },
      });
      expect(feedback.data?.submitFeedback).toMatchObject({ learned: true, arm: { id: route.arm } });
    });

    it('answers multipart in Apollo protocol framing: payload parts under the graphql boundary, then the closing one', async () => {
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'multipart/mixed;boundary="graphql";subscriptionSpec=1.0,application/json',
        },
        body: JSON.stringify({ query: print(ChatDocument), variables: chatInput('framing') }),
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^multipart\/mixed; boundary="graphql"; subscriptionSpec="1.0"/);
      const body = await response.text();
      expect(body.startsWith('\r\n--graphql\r\n')).toBe(true);
      expect(body.endsWith('\r\n--graphql--\r\n')).toBe(true);
      const parts = body
        .split('\r\n--graphql')
        .slice(1, -1)
        .map((part) => JSON.parse(part.slice(part.indexOf('\r\n\r\n'))) as { payload?: { data: ChatSubscription } });
      expectWholeChat(parts.filter((p) => p.payload).map((p) => p.payload!.data.chat));
    });

    it('streams over GraphQLWsLink (graphql-ws)', async () => {
      const ws = createWsClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
      const client = new ApolloClient({ link: new GraphQLWsLink(ws), cache: apolloCache() });
      try {
        expectWholeChat(await apolloChat(client, chatInput('Apollo over WebSocket')));
      } finally {
        await ws.dispose();
      }
    });

    it('unsubscribing from a multipart subscription aborts the model call', async () => {
      const slow = await startSlowGateway();
      const client = new ApolloClient({ link: new HttpLink({ uri: slow.gateway.url }), cache: apolloCache() });
      try {
        await new Promise<void>((resolve, reject) => {
          const subscription = client
            .subscribe({
              query: ChatDocument as TypedDocumentNode<ChatSubscription, OperationVariables>,
              variables: chatInput('a long answer, then I leave'),
            })
            .subscribe({
              next: (result) => {
                if (result.data?.chat.__typename === 'ChatChunk') {
                  subscription.unsubscribe();
                  resolve();
                }
              },
              error: reject,
            });
        });
        await expect.poll(() => slow.aborted.length, { timeout: 5_000 }).toBe(1);
      } finally {
        await slow.gateway.close();
      }
    });
  });

  describe('urql', () => {
    const urqlChat = (client: UrqlClient, content: string, onDone: () => void = () => undefined) =>
      new Promise<ChatEvent[]>((resolve, reject) => {
        const events: ChatEvent[] = [];
        pipe(
          client.subscription(ChatDocument, chatInput(content)),
          onEnd(() => {
            onDone();
            resolve(events);
          }),
          subscribe((result) => (result.error ? reject(result.error) : events.push(result.data!.chat))),
        );
      });

    it('streams over graphql-ws (subscriptionExchange)', async () => {
      const ws = createWsClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
      const client = new UrqlClient({
        url: gateway.url,
        exchanges: [
          fetchExchange,
          subscriptionExchange({
            forwardSubscription: (request) => ({
              subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
            }),
          }),
        ],
      });
      const events = await urqlChat(client, 'urql over WebSocket', () => void ws.dispose());
      expectWholeChat(dedupeLast(events));
    });

    it('streams over SSE (fetchSubscriptions)', async () => {
      const client = new UrqlClient({ url: gateway.url, exchanges: [fetchExchange], fetchSubscriptions: true });
      expectWholeChat(dedupeLast(await urqlChat(client, 'urql over SSE')));
      const arms = await client.query(ArmsDocument, {}).toPromise();
      expect(arms.data?.arms.map((a) => a.id)).toEqual(['weak', 'fair', 'good', 'best']);
    });
  });

  describe('graphql-sse', () => {
    const sseChat = async (client: ReturnType<typeof createSseClient>, content: string) => {
      const events: ChatEvent[] = [];
      for await (const result of client.iterate<ChatSubscription>({ query: print(ChatDocument), variables: chatInput(content) })) {
        expect(result.errors).toBeUndefined();
        events.push(result.data!.chat);
      }
      return events;
    };

    it('streams with distinct connections', async () => {
      const client = createSseClient({ url: gateway.url, singleConnection: false, retryAttempts: 0 });
      try {
        expectWholeChat(await sseChat(client, 'graphql-sse, distinct'));
      } finally {
        client.dispose();
      }
    });

    it('streams concurrent chats over one single connection, and a mutation beside them', async () => {
      const client = createSseClient({ url: gateway.url, singleConnection: true, retryAttempts: 0 });
      try {
        const [first, second] = await Promise.all([sseChat(client, 'single, first'), sseChat(client, 'single, second')]);
        expectWholeChat(first);
        expectWholeChat(second);
        expect(first[0]!.requestId).not.toBe(second[0]!.requestId);

        const results = [];
        for await (const result of client.iterate({
          query: 'mutation ($input: FeedbackInput!) { submitFeedback(input: $input) { learned } }',
          variables: {
            input: {
              requestId: first[0]!.requestId,
              feedbackToken: first[0]!.__typename === 'ChatRoute' ? first[0]!.feedbackToken : null,
              rating: 4,
            },
          },
        })) {
          results.push(result);
        }
        expect(results).toEqual([{ data: { submitFeedback: { learned: true } } }]);
      } finally {
        client.dispose();
      }
    });

    it('reports a bad operation on its own stream with a code, and keeps the connection serving', async () => {
      const client = createSseClient({ url: gateway.url, singleConnection: true, retryAttempts: 0 });
      try {
        const bad = [];
        for await (const result of client.iterate({ query: '{ nope }' })) bad.push(result);
        expect(bad).toHaveLength(1);
        expect(bad[0]!.errors).toMatchObject([{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]);
        // yoga's HTTP status hints stay inside the gateway.
        expect(bad[0]!.errors![0]!.extensions).not.toHaveProperty('http');
        expectWholeChat(await sseChat(client, 'after a bad one'));
      } finally {
        client.dispose();
      }
    });

    it('leaving a single-connection subscription mid-stream aborts the model call', async () => {
      const slow = await startSlowGateway();
      const client = createSseClient({ url: slow.gateway.url, singleConnection: true, retryAttempts: 0 });
      try {
        for await (const result of client.iterate<ChatSubscription>({
          query: print(ChatDocument),
          variables: chatInput('long, single connection'),
        })) {
          if (result.data?.chat.__typename === 'ChatChunk') break;
        }
        await expect.poll(() => slow.aborted.length, { timeout: 5_000 }).toBe(1);
      } finally {
        client.dispose();
        await slow.gateway.close();
      }
    });
  });

  it('streams to a GET request, as EventSource sends it', async () => {
    const url = new URL(gateway.url);
    url.searchParams.set('query', print(ChatDocument));
    url.searchParams.set('variables', JSON.stringify(chatInput('EventSource')));
    const response = await fetch(url, { headers: { accept: 'text/event-stream' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const body = await response.text();
    const events = body
      .split('\n\n')
      .filter((block) => block.includes('event: next'))
      .map((block) => (JSON.parse(block.split('\n').find((l) => l.startsWith('data:'))!.slice(5)) as { data: ChatSubscription }).data.chat);
    expectWholeChat(events);
    expect(body).toContain('event: complete');
  });

  describe('graphql-request', () => {
    it('runs queries and mutations', async () => {
      const client = new GraphQLClient(gateway.url);
      const { arms } = await client.request(ArmsDocument, {});
      expect(arms).toHaveLength(4);
      const refused = client.request(SubmitFeedbackDocument, { input: { requestId: 'nope', feedbackToken: 'a'.repeat(32), score: 1 } });
      await expect(refused).rejects.toBeInstanceOf(ClientError);
      await expect(refused).rejects.toMatchObject({ response: { errors: [{ extensions: { code: 'REQUEST_NOT_FOUND' } }] } });
    });

    it('gets BAD_USER_INPUT for a variable of the wrong type, as for a missing one, over HTTP and graphql-ws', async () => {
      const query = 'mutation ($score: Float) { submitFeedback(input: { requestId: "nope", score: $score }) { learned } }';
      const client = new GraphQLClient(gateway.url);
      for (const variables of [{ score: 'high' }, { score: [1] }] as Array<Record<string, unknown>>) {
        const error = await client.request(query, variables).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ClientError);
        expect((error as ClientError).response.errors).toMatchObject([
          { message: expect.stringMatching(/^Variable "\$score" got invalid value/), extensions: { code: 'BAD_USER_INPUT' } },
        ]);
      }
      const ws = createWsClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
      try {
        const results = [];
        for await (const result of ws.iterate({ query: 'query ($n: Int) { recentRequests(limit: $n) { id } }', variables: { n: 1.5 } })) {
          results.push(result);
        }
        expect(results).toMatchObject([{ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] }]);
      } finally {
        await ws.dispose();
      }
    });

    it('gets a coded error, not a bare 406, for a subscription it cannot stream', async () => {
      const client = new GraphQLClient(gateway.url);
      const error = await client.request(ChatDocument, chatInput('no streaming here')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClientError);
      const { response } = error as ClientError;
      expect(response.status).toBe(406);
      expect(response.errors).toMatchObject([{ extensions: { code: 'STREAMING_TRANSPORT_REQUIRED' } }]);
      expect(response.errors![0]!.message).toMatch(/text\/event-stream/);
    });

    it('a refused subscription leaves no model call running', async () => {
      const slow = await startSlowGateway();
      try {
        const refused = await new GraphQLClient(slow.gateway.url).request(ChatDocument, chatInput('refused')).catch((e: unknown) => e);
        expect(refused).toBeInstanceOf(ClientError);
        await expect.poll(() => slow.aborted.length).toBe(slow.started());
      } finally {
        await slow.gateway.close();
      }
    });
  });

  it('an HTTP request accepting nothing the gateway speaks gets NOT_ACCEPTABLE with a body', async () => {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/html' },
      body: JSON.stringify({ query: '{ arms { id } }' }),
    });
    expect(response.status).toBe(406);
    expect(await response.json()).toMatchObject({ errors: [{ extensions: { code: 'NOT_ACCEPTABLE' } }] });
  });
});

/** Apollo must be told a union's members to match its fragments (README's snippets do the same). */
function apolloCache(): InMemoryCache {
  return new InMemoryCache({ possibleTypes: { ChatEvent: ['ChatRoute', 'ChatChunk', 'ChatDone', 'ChatError'] } });
}

/** Without urql's closing repeat of the last result (it marks the end of the stream). */
function dedupeLast(events: readonly ChatEvent[]): ChatEvent[] {
  return events.filter((event, i) => i === 0 || JSON.stringify(event) !== JSON.stringify(events[i - 1]));
}
