import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatDocument, RequestDocument, SubmitFeedbackDocument } from '../../src/client/generated/graphql.js';
import type { SwitchyardClient } from '../../src/client/switchyard-client.js';
import { sharedRequestKey } from '../../src/chat/shared-request-store.js';
import { createCapturingLogger, startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

/**
 * A shared request record this version cannot read, through the real API: two gateways over one
 * real redis-server, the record of a chat served by A corrupted in Redis, then asked about on B.
 */

const PREFIX = 'records-test:';

async function chat(client: SwitchyardClient, content: string): Promise<{ requestId: string; feedbackToken: string }> {
  let route: { requestId: string; feedbackToken: string } | null = null;
  let done = false;
  for await (const result of client.subscribe(ChatDocument, { input: { messages: [{ role: 'USER', content }] } })) {
    expect(result.errors).toBeUndefined();
    const event = result.data!.chat;
    if (event.__typename === 'ChatRoute') route = { requestId: event.requestId, feedbackToken: event.feedbackToken };
    if (event.__typename === 'ChatDone') done = true;
  }
  if (!route || !done) throw new Error('the chat did not route and end');
  return route;
}

describe.skipIf(skipWithoutRedis())('shared request records this version cannot read, through GraphQL (real Redis)', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let a: RunningGateway;
  let b: RunningGateway;
  const logB = createCapturingLogger('warn');
  const config = () =>
    testConfigInput({ redis: { url: server.url, keyPrefix: PREFIX, commandTimeoutMs: 2_000 }, cache: { enabled: false }, shadow: { rate: 0 } });

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    a = await startGateway({ config: config() });
    b = await startGateway({ config: config(), logger: logB.logger });
  }, 30_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    redis?.disconnect();
    await server?.stop();
  });

  it('feedback and request(id) answer as for an unknown request, and the gateway keeps serving', async () => {
    const served = await chat(a.client, 'What is a router?');
    // Readable, B finds A's request.
    expect((await b.client.request(RequestDocument, { id: served.requestId, feedbackToken: served.feedbackToken })).request?.status).toBe('COMPLETED');

    const unknown = b.client.request(SubmitFeedbackDocument, { input: { requestId: 'no-such-request', feedbackToken: served.feedbackToken, score: 1 } });
    await expect(unknown).rejects.toMatchObject({ errors: [{ extensions: { code: 'REQUEST_NOT_FOUND' } }] });

    for (const corrupt of ['{"id": "truncated', JSON.stringify({ id: served.requestId, status: 42 })]) {
      await redis.hset(sharedRequestKey(PREFIX, served.requestId), 'r', corrupt);
      const feedback = b.client.request(SubmitFeedbackDocument, { input: { requestId: served.requestId, feedbackToken: served.feedbackToken, score: 1 } });
      await expect(feedback).rejects.toMatchObject({ errors: [{ extensions: { code: 'REQUEST_NOT_FOUND' } }] });
      expect((await b.client.request(RequestDocument, { id: served.requestId, feedbackToken: served.feedbackToken })).request).toBeNull();
    }
    const warned = logB.lines.filter((line) => line.includes('a shared request record this version cannot read'));
    expect(warned).toHaveLength(2);
    expect(warned.every((line) => line.includes(served.requestId))).toBe(true);

    // A still holds its own copy: feedback there is taken.
    const onA = await a.client.request(SubmitFeedbackDocument, { input: { requestId: served.requestId, feedbackToken: served.feedbackToken, score: 1 } });
    expect(onA.submitFeedback.requestId).toBe(served.requestId);
    // B keeps serving: a chat there, and feedback on it.
    const next = await chat(b.client, 'And a bandit?');
    const onB = await b.client.request(SubmitFeedbackDocument, { input: { requestId: next.requestId, feedbackToken: next.feedbackToken, score: 0.5 } });
    expect(onB.submitFeedback.requestId).toBe(next.requestId);
  });
});
