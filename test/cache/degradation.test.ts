import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createCacheManager, type CacheManager } from '../../src/cache/cache-manager.js';
import { createSilentLogger, type Logger } from '../../src/logger.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { answer, cacheConfig, captureLog, testRedisClient, waitFor } from './cache-test-kit.js';

describe.skipIf(skipWithoutRedis())('cache degradation when Redis fails', () => {
  const servers: RedisServerHandle[] = [];
  const clients: Redis[] = [];
  const managers: CacheManager[] = [];

  /** A Redis of this test's own, an instance logging to a capture, and a peer sharing the Redis. */
  async function startWithPeer() {
    const server = await startRedisServer();
    servers.push(server);
    const log = captureLog();
    const cache = instance(server.url, log.logger);
    const peer = instance(server.url);
    await waitFor(() => cache.status() === 'ok' && peer.status() === 'ok', 'L2 ready');
    return { server, log, cache, peer };
  }

  function instance(url: string, logger: Logger = createSilentLogger()): CacheManager {
    const redis = testRedisClient(url, logger);
    clients.push(redis);
    const manager = createCacheManager({
      config: cacheConfig({ l2: { cooldownMs: 200 } }),
      redis,
      keyPrefix: 'test:',
      logger,
    });
    managers.push(manager);
    return manager;
  }

  function keyOf(cache: CacheManager, text: string): string {
    const key = cache.keyFor({ messages: [{ role: 'user', content: text }], temperature: 0 });
    if (key === null) throw new Error('expected a cacheable request');
    return key;
  }

  /** Mixed reads and writes, as live traffic would do; resolves to the answers read. */
  async function traffic(cache: CacheManager, label: string, count: number): Promise<number> {
    let served = 0;
    await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const key = keyOf(cache, `${label} ${i}`);
        if ((await cache.get(key)) === undefined) await cache.set(key, answer(`${label} ${i}`));
        if ((await cache.get(key)) !== undefined) served += 1;
      }),
    );
    return served;
  }

  afterEach(async () => {
    for (const manager of managers.splice(0)) await manager.close();
    for (const client of clients.splice(0)) client.disconnect();
    for (const server of servers.splice(0)) await server.stop();
  });

  it('keeps serving from L1 when Redis dies mid-run, logs it once, and recovers by itself', async () => {
    const { server, log, cache, peer } = await startWithPeer();
    expect(await traffic(cache, 'before', 20)).toBe(20);

    // Kill while requests are in flight: none of them may fail.
    const during = traffic(cache, 'during', 50);
    await server.kill();
    expect(await during).toBe(50);
    await waitFor(() => cache.status() === 'degraded', 'degraded status');
    expect(cache.stats()).toMatchObject({ status: 'degraded', l1: { status: 'ok' }, l2: { status: 'degraded' } });

    for (let round = 0; round < 5; round += 1) expect(await traffic(cache, `after ${round}`, 20)).toBe(20);
    expect(log.count('cache L2 (Redis) lost')).toBe(1);
    expect(log.count('recovered')).toBe(0);

    await server.restart();
    await waitFor(() => cache.status() === 'ok' && peer.status() === 'ok', 'automatic recovery');
    expect(log.count('cache L2 (Redis) recovered')).toBe(1);
    expect(log.count('cache L2 (Redis) lost')).toBe(1);

    // L2 works again: what one instance stores, the other reads from Redis.
    const key = keyOf(cache, 'after recovery');
    await cache.set(key, answer('fresh'));
    expect(await peer.get(key)).toEqual({ answer: answer('fresh'), layer: 'l2' });
  });

  it('starts degraded when Redis is down at start-up and recovers when it comes up', async () => {
    const server = await startRedisServer();
    servers.push(server);
    await server.stop();
    const log = captureLog();
    const cache = instance(server.url, log.logger);
    await waitFor(() => log.count('unavailable at start-up') === 1, 'start-up degradation log');
    expect(cache.status()).toBe('degraded');
    for (let round = 0; round < 5; round += 1) expect(await traffic(cache, `down ${round}`, 20)).toBe(20);
    expect(log.count('unavailable at start-up')).toBe(1);

    await server.restart();
    const peer = instance(server.url);
    await waitFor(() => cache.status() === 'ok' && peer.status() === 'ok', 'recovery');
    expect(log.count('recovered')).toBe(1);
    const key = keyOf(cache, 'first L2 write');
    await cache.set(key, answer('stored late'));
    expect((await peer.get(key))?.layer).toBe('l2');
  });

  it('times out on a hung Redis, and deletes remembered evictions once it answers again', async () => {
    const { server, log, cache, peer } = await startWithPeer();
    const disliked = keyOf(cache, 'disliked');
    await cache.set(disliked, answer('bad'));

    server.pause();
    // The L1 miss goes to L2, which does not answer: the command timeout turns it into a miss.
    expect(await cache.get(keyOf(cache, 'probe while hung'))).toBeUndefined();
    expect(cache.status()).toBe('degraded');
    await cache.evict(disliked); // Redis cannot take it now; it is remembered
    expect(await traffic(cache, 'hung', 20)).toBe(20);
    expect(log.count('cache L2 (Redis) lost')).toBe(1);

    server.resume();
    // No reconnect happens (the connection never dropped): the first command after the cooldown
    // that succeeds is the recovery.
    await waitFor(() => {
      void cache.get(keyOf(cache, 'probe after resume'));
      return cache.status() === 'ok';
    }, 'recovery after resume');
    expect(log.count('cache L2 (Redis) recovered')).toBe(1);
    await expect.poll(async () => (await peer.get(disliked))?.layer ?? 'gone').toBe('gone');
  });
});
