import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ChatDocument, type ChatSubscription } from '../../src/client/generated/graphql.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

/**
 * Issue 14: "a third party holding a request id reads the request and its shadow answer's text,
 * and overwrites the user's feedback". Before, without client keys every request was owned by
 * "anonymous", so anyone who learnt an id (a log line, a shared screenshot, a proxy) could read
 * `request(id)` and `shadowCall` and replace the user's feedback. Now a request made without a key
 * belongs to whoever holds the feedback token that came with its route event, on GraphQL
 * (graphql-ws and HTTP) and on /v1; a wrong token is answered exactly like an unknown id.
 *
 * Default configuration: no client keys and no admin key, so the anonymous caller also has the
 * admin scope — which must not open other people's requests.
 */

type ChatEvent = ChatSubscription['chat'];
type Route = Extract<ChatEvent, { __typename: 'ChatRoute' }>;

const REQUEST = 'query ($id: ID!, $token: String) { request(id: $id, feedbackToken: $token) { id status feedback { score } } }';
const SHADOW = 'query ($id: ID!, $token: String) { shadowCall(requestId: $id, feedbackToken: $token) { status text } }';
const FEEDBACK =
  'mutation ($id: ID!, $token: String, $score: Float!) { submitFeedback(input: { requestId: $id, score: $score, feedbackToken: $token }) { score learned } }';
const COMPARE =
  'mutation ($id: ID!, $token: String) { submitComparison(requestId: $id, preferred: SHADOW, feedbackToken: $token) { requestId } }';

interface GraphQLBody {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

describe('a request belongs to the client that made it (no client keys)', () => {
  let gateway: RunningGateway;
  let v1: string;
  const sockets: Client[] = [];
  const socket = () => {
    const client = createClient({ url: gateway.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    sockets.push(client);
    return client;
  };
  /** One operation over graphql-ws: its single result. */
  const overWs = async (client: Client, query: string, variables: Record<string, unknown>): Promise<GraphQLBody> => {
    for await (const result of client.iterate({ query, variables })) return result as GraphQLBody;
    throw new Error('no result');
  };
  const overHttp = async (query: string, variables: Record<string, unknown>): Promise<GraphQLBody> => {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphQLBody;
  };
  const codeOf = (body: GraphQLBody) => body.errors?.[0]?.extensions?.code;
  /** A result that must have succeeded; otherwise the failure shows the whole body (its errors). */
  const dataOf = (body: GraphQLBody): Record<string, unknown> => {
    if (body.errors !== undefined || !body.data) throw new Error(`expected data, got ${JSON.stringify(body)}`);
    return body.data;
  };

  let owner: Client;
  let stranger: Client;
  let route: Route;

  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({
        arms: [
          { id: 'primary', model: 'm-fair' },
          { id: 'candidate', model: 'm-good', enabled: false },
        ],
        cache: { enabled: false },
        shadow: { rate: 1, arm: 'candidate', seed: 1 },
      }),
    });
    v1 = gateway.url.replace(/\/graphql$/, '/v1');
    owner = socket();
    stranger = socket();
    let last: ChatEvent | undefined;
    for await (const result of owner.iterate({
      query: print(ChatDocument),
      variables: { input: { messages: [{ role: 'USER', content: 'A private question about my invoice.' }], cache: false } },
    })) {
      const event = (dataOf(result as GraphQLBody) as ChatSubscription).chat;
      if (event.__typename === 'ChatRoute') route = event;
      last = event;
    }
    expect(route.feedbackToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // The tests below read a completed request: a chat that ended otherwise is reported here, as it ended.
    expect(last).toMatchObject({ __typename: 'ChatDone' });
    // The shadow answer completes in the background.
    for (let tries = 0; ; tries++) {
      const call = (await overWs(owner, SHADOW, { id: route.requestId, token: route.feedbackToken })).data?.shadowCall as { status?: string } | null;
      if (call?.status === 'COMPLETED') break;
      if (tries > 200) throw new Error(`the shadow call did not complete: ${JSON.stringify(call)}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
  afterAll(async () => {
    await Promise.all(sockets.map((client) => client.dispose()));
    await gateway?.close();
  });

  it('a third party with the id alone is told a token is needed, on graphql-ws and HTTP, for every read and write', async () => {
    for (const send of [(q: string, v: Record<string, unknown>) => overWs(stranger, q, v), overHttp]) {
      for (const query of [REQUEST, SHADOW, COMPARE]) {
        expect(codeOf(await send(query, { id: route.requestId }))).toBe('FEEDBACK_TOKEN_REQUIRED');
      }
      expect(codeOf(await send(FEEDBACK, { id: route.requestId, score: 0 }))).toBe('FEEDBACK_TOKEN_REQUIRED');
    }
  });

  it('a wrong token is answered exactly as an unknown id: nothing tells that the request exists', async () => {
    const wrong = 'A'.repeat(32);
    const existing = await overHttp(REQUEST, { id: route.requestId, token: wrong });
    const unknown = await overHttp(REQUEST, { id: 'no-such-request', token: wrong });
    expect(existing).toEqual({ data: { request: null } });
    expect(unknown).toEqual(existing);
    expect(await overHttp(SHADOW, { id: route.requestId, token: wrong })).toEqual({ data: { shadowCall: null } });

    const feedbackExisting = await overHttp(FEEDBACK, { id: route.requestId, token: wrong, score: 0 });
    const feedbackUnknown = await overHttp(FEEDBACK, { id: 'no-such-request', token: wrong, score: 0 });
    expect(codeOf(feedbackExisting)).toBe('REQUEST_NOT_FOUND');
    expect(feedbackExisting.errors![0]!.message.replace(route.requestId, 'ID')).toBe(
      feedbackUnknown.errors![0]!.message.replace('no-such-request', 'ID'),
    );
    expect(codeOf(await overHttp(COMPARE, { id: route.requestId, token: wrong }))).toBe('REQUEST_NOT_FOUND');

    const v1Feedback = await fetch(`${v1}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request_id: route.requestId, feedback_token: wrong, score: 0 }),
    });
    expect(v1Feedback.status).toBe(404);
    expect(((await v1Feedback.json()) as { error: { code: string } }).error.code).toBe('REQUEST_NOT_FOUND');
  });

  it('the owner, with its token, reads the request and the shadow text and rates it; nobody overwrites that', async () => {
    const { token } = { token: route.feedbackToken };
    const read = dataOf(await overWs(owner, REQUEST, { id: route.requestId, token }));
    expect(read.request).toMatchObject({ id: route.requestId, status: 'COMPLETED' });
    const shadow = dataOf(await overHttp(SHADOW, { id: route.requestId, token }));
    // The whole call on failure (null: the request or its shadow call not found), not just its text.
    expect(shadow.shadowCall).toMatchObject({ status: 'COMPLETED', text: expect.stringMatching(/./) });

    expect(dataOf(await overWs(owner, FEEDBACK, { id: route.requestId, token, score: 1 })).submitFeedback).toEqual({
      score: 1,
      learned: true,
    });
    // The stranger tries every way to replace it.
    await overWs(stranger, FEEDBACK, { id: route.requestId, score: 0 });
    // One character off: a token that already ends in "x" (1 in 64) gets a "y", or it would be the token itself.
    const oneOff = route.feedbackToken.slice(0, -1) + (route.feedbackToken.endsWith('x') ? 'y' : 'x');
    await overHttp(FEEDBACK, { id: route.requestId, token: oneOff, score: 0 });
    await fetch(`${v1}/feedback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request_id: route.requestId, score: 0 }),
    });
    expect(dataOf(await overHttp(REQUEST, { id: route.requestId, token })).request).toMatchObject({ feedback: { score: 1 } });
    expect(dataOf(await overHttp(COMPARE, { id: route.requestId, token })).submitComparison).toEqual({ requestId: route.requestId });
  });

  it('/v1 returns the token (header and switchyard.feedbackToken) and /v1/feedback requires it', async () => {
    const response = await fetch(`${v1}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-anything' },
      body: JSON.stringify({ model: 'switchyard/auto', messages: [{ role: 'user', content: 'Hello over v1.' }] }),
    });
    expect(response.status).toBe(200);
    const completion = (await response.json()) as { id: string; switchyard: { feedbackToken: string } };
    const token = response.headers.get('x-switchyard-feedback-token');
    expect(token).toBe(completion.switchyard.feedbackToken);

    const post = (body: Record<string, unknown>) =>
      fetch(`${v1}/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const without = await post({ request_id: completion.id, thumbs: 'down' });
    expect(without.status).toBe(400);
    expect(await without.json()).toMatchObject({ error: { code: 'FEEDBACK_TOKEN_REQUIRED', param: 'feedback_token' } });
    const withToken = await post({ request_id: completion.id, feedback_token: token, thumbs: 'up' });
    expect(withToken.status).toBe(200);
    expect(await withToken.json()).toMatchObject({ request_id: completion.id, score: 1, learned: true });
  });
});

describe('an admin key reads any request; ownership does not hang on the anonymous admin scope', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({ server: { adminTokenEnv: 'ADMIN_TOKEN' }, cache: { enabled: false } }),
      env: { ADMIN_TOKEN: 'admin-token-5f7a9c1e3b5d7f9a' },
    });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  it('lets the admin key read and rate an anonymous request without its token', async () => {
    let requestId = '';
    for await (const event of gateway.client.chat({ messages: [{ role: 'USER', content: 'Hi.' }], cache: false })) {
      requestId = event.requestId;
    }
    const asAdmin = async (query: string, variables: Record<string, unknown>) => {
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: 'Bearer admin-token-5f7a9c1e3b5d7f9a',
        },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as GraphQLBody;
    };
    expect((await asAdmin(REQUEST, { id: requestId })).data?.request).toMatchObject({ id: requestId, status: 'COMPLETED' });
    expect((await asAdmin(FEEDBACK, { id: requestId, score: 0.5 })).data?.submitFeedback).toEqual({ score: 0.5, learned: true });
  });
});
