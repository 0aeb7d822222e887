import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ArmsDocument, ChatDocument, RequestDocument, SubmitFeedbackDocument } from '../../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../../src/client/switchyard-client.js';
import { createCapturingLogger, startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

/**
 * With client keys configured, every transport (GraphQL over HTTP, SSE and graphql-ws, and /v1)
 * refuses a missing, wrong or under-scoped key, and one key cannot read or give feedback on
 * another key's request.
 */

const KEYS = {
  ALICE_KEY: 'sk-alice-2b4d6f8a0c1e3f5a',
  BOB_KEY: 'sk-bob-7c9e1a3b5d7f9b1d',
  READER_KEY: 'sk-reader-4e6a8c0e2a4c6e8a',
  CHATTER_KEY: 'sk-chatter-1f3b5d7f9a1c3e5b',
  OPS_KEY: 'sk-ops-6d8f0b2d4f6b8d0f',
};
const WRONG = 'sk-wrong-0000000000000000';

const CHAT = print(ChatDocument);
const chatVariables = { input: { messages: [{ role: 'USER', content: 'Hello from a keyed client.' }], cache: false } };
const ARMS = '{ arms { id } }';

describe('client keys on every transport', () => {
  let gateway: RunningGateway;
  let v1: string;
  const log = createCapturingLogger('trace');
  const ws: SwitchyardClient[] = [];
  const wsFor = (key: string) => {
    const client = createSwitchyardClient({ url: gateway.wsUrl, connectionParams: { authorization: `Bearer ${key}` } });
    ws.push(client);
    return client;
  };

  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({
        auth: {
          keys: [
            { id: 'alice', env: 'ALICE_KEY' },
            { id: 'bob', env: 'BOB_KEY' },
            { id: 'reader', env: 'READER_KEY', scopes: ['read'] },
            { id: 'chatter', env: 'CHATTER_KEY', scopes: ['chat'] },
            { id: 'ops', env: 'OPS_KEY', scopes: ['admin'] },
          ],
        },
      }),
      env: KEYS,
      logger: log.logger,
    });
    v1 = gateway.url.replace(/\/graphql$/, '/v1');
  });
  afterAll(async () => {
    await Promise.all(ws.map((client) => client.dispose()));
    await gateway?.close();
  });

  const http = async (query: string, variables: Record<string, unknown>, key?: string) => {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, body: (await response.json()) as { data?: any; errors?: Array<{ extensions?: { code?: string } }> } };
  };
  const codeOf = (body: { errors?: Array<{ extensions?: { code?: string } }> }) => body.errors?.[0]?.extensions?.code;

  const sse = async (key?: string) => {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query: CHAT, variables: chatVariables }),
    });
    const text = await response.text();
    const events = text
      .split('\n\n')
      .filter((block) => block.includes('event: next'))
      .map((block) => JSON.parse(block.slice(block.indexOf('data:') + 5)) as { data?: any; errors?: Array<{ extensions?: { code?: string } }> });
    return { status: response.status, text, events };
  };

  const wsClose = (key?: string) =>
    new Promise<{ code: number }>((resolve) => {
      const client: Client = createClient({
        url: gateway.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: false,
        connectionParams: key ? { authorization: `Bearer ${key}` } : {},
        on: { closed: (event) => resolve({ code: (event as { code: number }).code }) },
        onNonLazyError: () => undefined,
      });
      void client;
    });

  const v1Chat = async (key?: string, body: Record<string, unknown> = {}) => {
    const response = await fetch(`${v1}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ model: 'switchyard/auto', messages: [{ role: 'user', content: 'hi over v1' }], ...body }),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as any };
  };

  describe('GraphQL over HTTP', () => {
    it('refuses a missing or wrong key with 401, an under-scoped one with FORBIDDEN', async () => {
      for (const key of [undefined, WRONG]) {
        const { status, body } = await http(ARMS, {}, key);
        expect(status).toBe(401);
        expect(codeOf(body)).toBe('UNAUTHENTICATED');
      }
      expect(codeOf((await http(ARMS, {}, KEYS.CHATTER_KEY)).body)).toBe('FORBIDDEN');
      const feedback = await http(print(SubmitFeedbackDocument), { input: { requestId: 'x', thumbs: 'UP' } }, KEYS.READER_KEY);
      expect(codeOf(feedback.body)).toBe('FORBIDDEN');
      expect(codeOf((await http('mutation { invalidateCache }', {}, KEYS.ALICE_KEY)).body)).toBe('FORBIDDEN');
      expect((await http(ARMS, {}, KEYS.READER_KEY)).body.data.arms).toHaveLength(4);
      expect((await http('mutation { invalidateCache }', {}, KEYS.OPS_KEY)).body.errors).toBeUndefined();
    });

    it('checks root fields reached through fragments too', async () => {
      const sneaky = 'query { ...F } fragment F on Query { ... on Query { arms { id } } }';
      expect(codeOf((await http(sneaky, {}, KEYS.CHATTER_KEY)).body)).toBe('FORBIDDEN');
    });

    it('serves GraphiQL page without a key, but no query', async () => {
      const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/graphiql/i);
      const query = await fetch(`${gateway.url}?query=${encodeURIComponent(ARMS)}`, { headers: { accept: 'text/html' } });
      expect(query.status).toBe(401);
    });

    it('keeps /metrics behind the read scope and /health, /livez open', async () => {
      const metrics = (key?: string) => fetch(gateway.url.replace(/\/graphql$/, '/metrics'), { headers: key ? { authorization: `Bearer ${key}` } : {} });
      expect((await metrics()).status).toBe(401);
      expect((await metrics(KEYS.CHATTER_KEY)).status).toBe(403);
      expect((await metrics(KEYS.READER_KEY)).status).toBe(200);
      expect((await fetch(gateway.url.replace(/\/graphql$/, '/health'))).status).toBe(200);
      expect((await fetch(gateway.url.replace(/\/graphql$/, '/livez'))).status).toBe(200);
    });
  });

  describe('GraphQL over SSE', () => {
    it('refuses a missing or wrong key with 401 before streaming, an under-scoped one with FORBIDDEN', async () => {
      for (const key of [undefined, WRONG]) expect((await sse(key)).status).toBe(401);
      const refused = await sse(KEYS.READER_KEY);
      expect(refused.events.map((e) => e.errors?.[0]?.extensions?.code)).toEqual(['FORBIDDEN']);
      const served = await sse(KEYS.CHATTER_KEY);
      expect(served.events[0]!.data.chat.__typename).toBe('ChatRoute');
      expect(served.events.at(-1)!.data.chat.__typename).toBe('ChatDone');
    });
  });

  describe('graphql-ws', () => {
    it('closes a socket with a missing or wrong key at connection_init (4403)', async () => {
      expect(await wsClose()).toEqual({ code: 4403 });
      expect(await wsClose(WRONG)).toEqual({ code: 4403 });
    });

    it('refuses an under-scoped operation with FORBIDDEN and serves the scoped one', async () => {
      const reader = wsFor(KEYS.READER_KEY);
      const events = [];
      for await (const result of reader.subscribe(ChatDocument, chatVariables as never)) events.push(result);
      expect(events.map((e) => e.errors?.[0]?.extensions?.code)).toEqual(['FORBIDDEN']);
      expect((await reader.request(ArmsDocument, {})).arms).toHaveLength(4);
    });
  });

  describe('/v1', () => {
    it('refuses a missing or wrong key with 401, an under-scoped one with 403, in OpenAI shape', async () => {
      for (const key of [undefined, WRONG]) {
        const { status, headers, body } = await v1Chat(key);
        expect(status).toBe(401);
        expect(headers.get('www-authenticate')).toBe('Bearer');
        expect(body).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'UNAUTHENTICATED' } });
      }
      const { status, body } = await v1Chat(KEYS.READER_KEY);
      expect(status).toBe(403);
      expect(body.error).toMatchObject({ type: 'permission_error', code: 'FORBIDDEN' });
    });
  });

  describe('ownership', () => {
    /** Alice chats over graphql-ws and over /v1; Bob holds her request ids. */
    let overWs = '';
    let overV1 = '';
    beforeAll(async () => {
      for await (const result of wsFor(KEYS.ALICE_KEY).subscribe(ChatDocument, chatVariables as never)) {
        const event = result.data!.chat;
        if (event.__typename === 'ChatRoute') overWs = event.requestId;
      }
      overV1 = (await v1Chat(KEYS.ALICE_KEY)).body.id;
      expect(overWs).not.toBe('');
      expect(overV1).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('refuses another key feedback and reads on every transport', async () => {
      for (const requestId of [overWs, overV1]) {
        const overHttp = await http(print(SubmitFeedbackDocument), { input: { requestId, thumbs: 'DOWN' } }, KEYS.BOB_KEY);
        expect(codeOf(overHttp.body)).toBe('FORBIDDEN');
        await expect(wsFor(KEYS.BOB_KEY).request(SubmitFeedbackDocument, { input: { requestId, thumbs: 'DOWN' } })).rejects.toMatchObject({
          errors: [{ extensions: { code: 'FORBIDDEN' } }],
        });
        const response = await fetch(`${v1}/feedback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.BOB_KEY}` },
          body: JSON.stringify({ request_id: requestId, thumbs: 'down' }),
        });
        expect(response.status).toBe(403);
        expect(((await response.json()) as any).error.code).toBe('FORBIDDEN');
        expect(codeOf((await http(print(RequestDocument), { id: requestId }, KEYS.BOB_KEY)).body)).toBe('FORBIDDEN');
        expect(codeOf((await http('query ($id: ID!) { shadowCall(requestId: $id) { text } }', { id: requestId }, KEYS.BOB_KEY)).body)).toBe(
          'FORBIDDEN',
        );
        await expect(wsFor(KEYS.BOB_KEY).request(RequestDocument, { id: requestId })).rejects.toMatchObject({
          errors: [{ extensions: { code: 'FORBIDDEN' } }],
        });
      }
    });

    it('takes the owner feedback, and lets an admin read any request', async () => {
      const mine = await http(print(SubmitFeedbackDocument), { input: { requestId: overV1, thumbs: 'UP' } }, KEYS.ALICE_KEY);
      expect(mine.body.errors).toBeUndefined();
      expect(mine.body.data.submitFeedback.score).toBe(1);
      const read = await http(print(RequestDocument), { id: overWs }, KEYS.OPS_KEY);
      expect(read.body.data.request.id).toBe(overWs);
      // Bob's attempts changed nothing: the only feedback is Alice's.
      expect((await http(print(RequestDocument), { id: overV1 }, KEYS.ALICE_KEY)).body.data.request.feedback.score).toBe(1);
      expect((await http(print(RequestDocument), { id: overWs }, KEYS.ALICE_KEY)).body.data.request.feedback).toBeNull();
    });
  });

  it('never logs a key', () => {
    expect(log.lines.length).toBeGreaterThan(0);
    const leaked = log.lines.filter((line) => Object.values(KEYS).some((key) => line.includes(key)) || line.includes(WRONG));
    expect(leaked).toEqual([]);
  });
});
