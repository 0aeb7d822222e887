import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createRedisClient, reconnectDelayMs, redactRedisUrl } from '../../src/cache/redis-client.js';
import { captureLog, redisConfig, waitFor } from './cache-test-kit.js';

describe('redis client', () => {
  it('never shows the password of the URL', () => {
    expect(redactRedisUrl('redis://user:hunter2@cache.internal:6380/2')).toBe('redis://user:***@cache.internal:6380/2');
    expect(redactRedisUrl('redis://cache.internal:6379')).toBe('redis://cache.internal:6379');
    expect(redactRedisUrl('not a url hunter2')).not.toContain('hunter2');
  });

  it('backs off exponentially up to a cap and never stops retrying', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => reconnectDelayMs(attempt, 100, 2_000))).toEqual([
      100, 200, 400, 800, 1_600, 2_000,
    ]);
    expect(reconnectDelayMs(1_000_000, 100, 2_000)).toBe(2_000);
  });

  it('fails commands at once while disconnected, keeps reconnecting, and logs no password', async () => {
    // A port that refuses connections: bind, learn the port, close.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const log = captureLog();
    const client = createRedisClient(
      { ...redisConfig({ retryBaseMs: 10, retryMaxMs: 20 }), url: `redis://user:hunter2@127.0.0.1:${port}` },
      log.logger,
    );
    try {
      await expect(client.get('k')).rejects.toThrow();
      await waitFor(() => log.count('redis connection error') >= 3, 'several reconnect attempts');
      expect(client.status).not.toBe('end');
      expect(log.lines().map((line) => JSON.stringify(line)).join('\n')).not.toContain('hunter2');
    } finally {
      client.disconnect();
    }
  });
});
