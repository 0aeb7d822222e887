import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import type { RedisConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';

/** The URL with any password replaced, safe to log. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // An unparsable URL may still hold a secret; say nothing about it.
    return '[unparsable redis url]';
  }
}

/** Capped exponential backoff; never gives up, so the client reconnects by itself when Redis returns. */
export function reconnectDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

/**
 * The one place Redis clients are built. The options make Redis unable to stall a request:
 * commands time out, nothing queues while disconnected (commands fail at once instead), and
 * reconnection runs forever in the background. Connection errors are logged at debug level only:
 * users of the client (the cache) report availability changes once, not per retry.
 */
export function createRedisClient(config: RedisConfig & { url: string }, logger: Logger): Redis {
  const log = logger.child({ component: 'redis', url: redactRedisUrl(config.url) });
  // Loaded here, not imported at the top: ioredis costs ~6 MB resident, and the embedded default
  // (no Redis URL) never builds a client.
  const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
  const client = new RedisClient(config.url, {
    commandTimeout: config.commandTimeoutMs,
    connectTimeout: config.connectTimeoutMs,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (attempt) => reconnectDelayMs(attempt, config.retryBaseMs, config.retryMaxMs),
    connectionName: 'switchyard',
  });
  // Without a listener ioredis prints every connection error to stderr itself.
  client.on('error', (error: Error) => log.debug({ err: error.message }, 'redis connection error'));
  return client;
}
