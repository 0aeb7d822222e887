import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestStore, type RequestRecord } from '../../src/chat/request-store.js';
import { createSharedRequestStore, type SharedRequestStore } from '../../src/chat/shared-request-store.js';
import { createSilentLogger } from '../../src/logger.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

/** recentRequests on any instance: two shared request stores (two "instances") over one real redis-server. */

const TTL_MS = 60_000;

const record = (id: string, session: string | null, createdAt: number, status: RequestRecord['status'] = 'completed'): RequestRecord => ({
  id,
  createdAt,
  owner: null,
  client: null,
  tokenDigest: 'ab'.repeat(32),
  status,
  decision: null,
  shared: false,
  cached: false,
  cacheKey: null,
  attempts: 1,
  finishReason: 'stop',
  errorCode: null,
  metrics: null,
  feedback: null,
  session,
});

describe.skipIf(skipWithoutRedis())('shared request store: recentRequests across instances (real Redis)', () => {
  let server: RedisServerHandle;
  const clients: Redis[] = [];
  const stores: SharedRequestStore[] = [];
  const instance = async () => {
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis.on('error', () => undefined);
    clients.push(redis);
    // Without an offline queue a command before the connection is ready fails (as the gateway's do).
    await new Promise((resolve) => redis.once('ready', resolve));
    const store = createSharedRequestStore({
      local: createRequestStore({ maxRequests: 1_000, ttlMs: TTL_MS }),
      redis,
      keyPrefix: 'test:',
      ttlMs: TTL_MS,
      logger: createSilentLogger(),
      canReshare: () => false,
    });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterAll(async () => {
    for (const store of stores) store.close();
    for (const redis of clients) redis.disconnect();
    await server?.stop();
  });

  it("lists a session's requests served by any instance, newest first, this instance's in-flight ones included", async () => {
    const a = await instance();
    // A's own client: the first one made in this file may be another test's, whose server was restarted.
    const redisA = clients.at(-1)!;
    const b = await instance();
    const now = Date.now();
    for (const [store, r] of [
      [a, record('r1', 'session:s', now - 50)],
      [b, record('r2', 'session:s', now - 40)],
      [a, record('r3', 'session:other', now - 30)],
      [a, record('r4', 'session:s', now - 20)],
    ] as const) {
      store.add(r);
      await store.save(r);
    }
    // Streaming on B: not shared yet, listed by B only.
    b.add(record('r5', 'session:s', now - 10, 'streaming'));
    expect((await b.recent('session:s', 10)).map((r) => r.id)).toEqual(['r5', 'r4', 'r2', 'r1']);
    expect((await a.recent('session:s', 10)).map((r) => r.id)).toEqual(['r4', 'r2', 'r1']);
    expect((await a.recent('session:s', 2)).map((r) => r.id)).toEqual(['r4', 'r2']);
    expect((await b.recent('session:other', 10)).map((r) => r.id)).toEqual(['r3']);
    // A WebSocket connection's session lives on one instance: not listed in Redis.
    const onConnection = record('r6', 'connection:c1', now);
    a.add(onConnection);
    await a.save(onConnection);
    expect((await a.recent('connection:c1', 10)).map((r) => r.id)).toEqual(['r6']);
    expect(await redisA.exists('test:session:connection:c1')).toBe(0);
    // The shared listing expires with the window.
    const ttl = await redisA.pttl('test:session:session:s');
    expect(ttl).toBeGreaterThan(TTL_MS - 5_000);
  });

  it('Redis unreachable: lists this instance\'s requests instead of failing', async () => {
    const a = await instance();
    const r = record('r-local', 'session:down', Date.now());
    a.add(r);
    await a.save(r);
    await server.kill();
    try {
      expect((await a.recent('session:down', 10)).map((x) => x.id)).toEqual(['r-local']);
    } finally {
      await server.start();
    }
  });
});
