import { describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/cache/redis-client.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLimiterStore } from '../../src/limits/limiter-store.js';
import { createLogger } from '../../src/logger.js';
import { testConfigInput } from '../helpers/gateway.js';
import { closedPortUrl } from '../helpers/upstream.js';

const logger = createLogger('silent');

describe('the limiter store', () => {
  it('in memory: a window admits exactly its limit under concurrency, and counts added points', async () => {
    const store = createLimiterStore({ redis: null, keyPrefix: 't:', leaseMs: 30_000, logger });
    const window = store.window('w', { limit: 37, durationMs: 60_000 });
    const decisions = await Promise.all(Array.from({ length: 100 }, () => window.consume('k')));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(37);
    expect(decisions.every((d) => d.resetMs > 0 && d.resetMs <= 60_000)).toBe(true);
    await window.add('other', 5);
    await window.add('other', 0);
    expect((await window.usage('other')).used).toBe(5);
    expect((await window.usage('unused')).used).toBe(0);
  });

  it('in memory: slots hold a limit per key and free once per lease', async () => {
    const store = createLimiterStore({ redis: null, keyPrefix: 't:', leaseMs: 30_000, logger });
    const slots = store.slots('s');
    const a = await slots.tryAcquire('k', 2);
    const b = await slots.tryAcquire('k', 2);
    expect(await slots.tryAcquire('k', 2)).toBeNull();
    expect(await slots.tryAcquire('other', 2)).not.toBeNull();
    a!.release();
    a!.release();
    const c = await slots.tryAcquire('k', 2);
    expect(c).not.toBeNull();
    expect(await slots.tryAcquire('k', 2)).toBeNull();
    b!.release();
    c!.release();
  });

  it('with Redis unreachable: falls back to this instance and keeps limiting', async () => {
    const url = (await closedPortUrl()).replace(/^http/, 'redis').replace(/\/v1$/, '');
    const redis = createRedisClient({ ...parseConfig(testConfigInput()).redis, url }, logger);
    try {
      const store = createLimiterStore({ redis, keyPrefix: 't:', leaseMs: 30_000, logger });
      const window = store.window('w', { limit: 3, durationMs: 60_000 });
      const decisions = [];
      for (let i = 0; i < 5; i++) decisions.push((await window.consume('k')).allowed);
      expect(decisions).toEqual([true, true, true, false, false]);
      await window.add('t', 7);
      expect((await window.usage('t')).used).toBe(7);
      const slots = store.slots('s');
      const lease = await slots.tryAcquire('k', 1);
      expect(lease).not.toBeNull();
      expect(await slots.tryAcquire('k', 1)).toBeNull();
      lease!.release();
      expect(await slots.tryAcquire('k', 1)).not.toBeNull();
      await store.close();
    } finally {
      redis.disconnect();
    }
  });
});
