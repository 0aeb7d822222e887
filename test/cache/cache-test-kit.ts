import type { Redis } from 'ioredis';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { CacheConfig, RedisConfig } from '../../src/config/schema.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createRedisClient } from '../../src/cache/redis-client.js';
import type { CachedAnswer } from '../../src/cache/cache-manager.js';

/** A cache config as the loader would produce it from a `cache` section. */
export function cacheConfig(section: Record<string, unknown> = {}): CacheConfig {
  return parseConfig({ ...defaultConfig, cache: section }).cache;
}

export function redisConfig(section: Record<string, unknown> = {}): RedisConfig {
  return parseConfig({ ...defaultConfig, redis: section }).redis;
}

/** A Redis client with short timeouts and backoff so fault tests recover quickly. */
export function testRedisClient(url: string, logger: Logger): Redis {
  return createRedisClient(
    { ...redisConfig({ commandTimeoutMs: 300, connectTimeoutMs: 500, retryBaseMs: 20, retryMaxMs: 200 }), url },
    logger,
  );
}

export interface CapturedLog {
  readonly logger: Logger;
  readonly lines: () => { level: number; msg: string }[];
  readonly count: (fragment: string) => number;
}

export function captureLog(): CapturedLog {
  const raw: string[] = [];
  const logger = createLogger('debug', { write: (line: string) => void raw.push(line) });
  const lines = () => raw.map((line) => JSON.parse(line) as { level: number; msg: string });
  return { logger, lines, count: (fragment) => lines().filter((line) => line.msg.includes(fragment)).length };
}

export function answer(text: string, overrides: Partial<CachedAnswer> = {}): CachedAnswer {
  return {
    text,
    armId: 'flash',
    modelId: 'sim-flash',
    finishReason: 'stop',
    promptTokens: 12,
    completionTokens: 34,
    costUsd: 0.0001,
    latencyMs: 120,
    ttftMs: 40,
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

/** Polls until `condition` holds; fails after `timeoutMs` (a deadline for liveness, not a speed assertion). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
