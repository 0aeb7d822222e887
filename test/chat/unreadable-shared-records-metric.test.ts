import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatDocument, RequestDocument, SubmitFeedbackDocument } from '../../src/client/generated/graphql.js';
import { sharedRequestKey } from '../../src/chat/shared-request-store.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { parsePrometheusText } from '../helpers/prometheus-text.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

/**
 * Unreadable shared request records are counted in /metrics: a gateway over a real redis-server,
 * records planted in Redis that this version cannot read (a record, a last score), read through
 * GraphQL, then the count scraped.
 */

const PREFIX = 'unreadable-metric:';

describe.skipIf(skipWithoutRedis())('the unreadable shared request records metric (real Redis)', () => {
  let server: RedisServerHandle;
  let redis: Redis;
  let gateway: RunningGateway;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    gateway = await startGateway({
      config: testConfigInput({ redis: { url: server.url, keyPrefix: PREFIX, commandTimeoutMs: 2_000 }, cache: { enabled: false }, shadow: { rate: 0 } }),
    });
  }, 30_000);
  afterAll(async () => {
    await gateway?.close();
    redis?.disconnect();
    await server?.stop();
  });

  const unreadable = async () => {
    const metrics = parsePrometheusText(await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text());
    const family = metrics.get('switchyard_request_records_unreadable_total')!;
    return Object.fromEntries(family.samples.map((sample) => [sample.labels.store, sample.value]));
  };

  it('counts every read of a record this version cannot read, and nothing for readable or unknown ones', async () => {
    expect(await unreadable()).toEqual({ shared: 0 });
    // A readable record served here, and an unknown id: nothing counted.
    let token = '';
    for await (const result of gateway.client.subscribe(ChatDocument, { input: { messages: [{ role: 'USER', content: 'counted?' }] } })) {
      const event = result.data!.chat;
      if (event.__typename === 'ChatRoute') token = event.feedbackToken;
    }
    await expect(
      gateway.client.request(SubmitFeedbackDocument, { input: { requestId: 'no-such-request', feedbackToken: token, score: 1 } }),
    ).rejects.toMatchObject({ errors: [{ extensions: { code: 'REQUEST_NOT_FOUND' } }] });
    expect(await unreadable()).toEqual({ shared: 0 });

    // Another instance's records this version cannot read: a record with a wrong-typed field, and a readable record whose last score is not scores.
    const good = { id: 'x', createdAt: Date.now(), owner: null, tokenDigest: '', client: null, status: 'completed', decision: null, shared: false, cached: false, cacheKey: null, attempts: 1, finishReason: 'stop', errorCode: null, metrics: null, session: null };
    await redis.hset(sharedRequestKey(PREFIX, 'bad-record'), 'r', JSON.stringify({ ...good, id: 'bad-record', status: 42 }));
    await redis.hset(sharedRequestKey(PREFIX, 'bad-score'), 'r', JSON.stringify({ ...good, id: 'bad-score' }), 'fb', '{"scores": [7]}');
    for (const id of ['bad-record', 'bad-score']) {
      await expect(gateway.client.request(SubmitFeedbackDocument, { input: { requestId: id, feedbackToken: token, score: 1 } })).rejects.toMatchObject({
        errors: [{ extensions: { code: 'REQUEST_NOT_FOUND' } }],
      });
    }
    expect((await gateway.client.request(RequestDocument, { id: 'bad-record', feedbackToken: token })).request).toBeNull();
    expect(await unreadable()).toEqual({ shared: 3 });
  });
});
