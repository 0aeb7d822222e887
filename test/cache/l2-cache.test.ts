import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCacheManager, type CacheManager } from '../../src/cache/cache-manager.js';
import { createSilentLogger } from '../../src/logger.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { answer, cacheConfig, testRedisClient, waitFor } from './cache-test-kit.js';

describe.skipIf(skipWithoutRedis())('cache with Redis (L2)', () => {
  let server: RedisServerHandle;
  const clients: Redis[] = [];
  const managers: CacheManager[] = [];
  let admin: Redis;

  /** An instance of the cache with its own client and L1, as a second Switchyard would have. */
  async function instance(section: Record<string, unknown> = {}): Promise<CacheManager> {
    const redis = testRedisClient(server.url, createSilentLogger());
    clients.push(redis);
    const manager = createCacheManager({ config: cacheConfig(section), redis, keyPrefix: 'test:', logger: createSilentLogger() });
    managers.push(manager);
    await waitFor(() => manager.status() === 'ok', 'L2 ready');
    return manager;
  }

  function keyOf(cache: CacheManager, text: string, arm?: string): string {
    const key = cache.keyFor({ messages: [{ role: 'user', content: text }], temperature: 0, arm });
    if (key === null) throw new Error('expected a cacheable request');
    return key;
  }

  beforeAll(async () => {
    server = await startRedisServer();
    admin = testRedisClient(server.url, createSilentLogger());
    clients.push(admin);
  });

  beforeEach(async () => {
    await waitFor(() => admin.status === 'ready', 'admin client ready');
    await admin.flushall();
  });

  afterAll(async () => {
    for (const manager of managers) await manager.close();
    for (const client of clients) client.disconnect();
    await server?.stop();
  });

  it('serves from L2 an answer another instance stored, and fills L1 with it', async () => {
    const writer = await instance();
    const reader = await instance();
    const key = keyOf(writer, 'shared question');
    await writer.set(key, answer('shared answer'));

    expect(await reader.get(key)).toEqual({ answer: answer('shared answer'), layer: 'l2' });
    expect(await reader.get(key)).toEqual({ answer: answer('shared answer'), layer: 'l1' });
    expect(reader.stats()).toMatchObject({
      l1: { hits: 1, misses: 1, entries: 1 },
      l2: { status: 'ok', hits: 1, misses: 0 },
      hits: 2,
      misses: 0,
    });
  });

  it('stores values with a prefixed key and an expiry within the TTL bounds', async () => {
    const cache = await instance({ ttl: { minSeconds: 30, maxSeconds: 300 } });
    const key = keyOf(cache, 'ttl question');
    await cache.set(key, answer('a'));
    expect(JSON.parse((await admin.get(`test:cache:${key}`))!)).toEqual(answer('a'));
    const pttl = await admin.pttl(`test:cache:${key}`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(30_000);

    // An L2 hit from another instance extends the entry to the one-hit TTL (2 x 30 s).
    const other = await instance({ ttl: { minSeconds: 30, maxSeconds: 300 } });
    expect((await other.get(key))?.layer).toBe('l2');
    await expect.poll(() => admin.pttl(`test:cache:${key}`)).toBeGreaterThan(30_000);
    expect(await admin.pttl(`test:cache:${key}`)).toBeLessThanOrEqual(60_000);
  });

  it('reports L2 entries and bytes', async () => {
    const cache = await instance();
    for (let i = 0; i < 5; i += 1) await cache.set(keyOf(cache, `q${i}`), answer(`answer ${i}`));
    await admin.set('unrelated', 'not ours');
    const stats = await cache.refreshStats();
    expect(stats.l2.entries).toBe(5);
    expect(stats.l2.bytes).toBeGreaterThan(5 * 'answer 0'.length);
    expect(stats.l2.countedAt).not.toBeNull();
  });

  it('treats an unreadable L2 value as a miss', async () => {
    const cache = await instance();
    const key = keyOf(cache, 'corrupt');
    await admin.set(`test:cache:${key}`, '{"text": 1}');
    expect(await cache.get(key)).toBeUndefined();
    expect(await admin.exists(`test:cache:${key}`)).toBe(0);
  });

  it('evicts from L1 and L2 here and from the L1 of other instances', async () => {
    const a = await instance();
    const b = await instance();
    const key = keyOf(a, 'disliked');
    await a.set(key, answer('bad answer'));
    expect((await b.get(key))?.layer).toBe('l2'); // b now holds it in L1 too

    await a.evict(key);
    expect(await a.get(key)).toBeUndefined();
    expect(await admin.exists(`test:cache:${key}`)).toBe(0);
    // b's L1 copy goes when the eviction arrives over pub/sub.
    await expect.poll(async () => (await b.get(key))?.layer ?? 'gone').toBe('gone');
  });

  it('invalidates by prefix and entirely, in both layers and other instances', async () => {
    const a = await instance();
    const b = await instance();
    const flash = keyOf(a, 'pinned', 'flash');
    const sage = keyOf(a, 'pinned', 'sage');
    const routed = keyOf(a, 'routed');
    for (const key of [flash, sage, routed]) {
      await a.set(key, answer(key));
      await b.get(key);
    }
    // One L1 copy and one L2 value.
    expect(await a.invalidate('arm/flash/')).toBe(2);
    expect(await admin.exists(`test:cache:${flash}`)).toBe(0);
    expect(await admin.exists(`test:cache:${sage}`)).toBe(1);
    await expect.poll(async () => (await b.get(flash))?.layer ?? 'gone').toBe('gone');
    expect((await b.get(sage))?.layer).toBe('l1');

    expect(await a.invalidate()).toBe(4);
    expect(await admin.dbsize()).toBe(0);
    await expect.poll(() => b.stats().l1.entries).toBe(0);
  });

  it('leaves other deployments (other key prefixes) alone', async () => {
    const cache = await instance();
    await admin.set('other:cache:any/abc', 'theirs');
    await cache.set(keyOf(cache, 'ours'), answer('ours'));
    expect(await cache.invalidate()).toBe(2);
    expect(await admin.get('other:cache:any/abc')).toBe('theirs');
  });
});
