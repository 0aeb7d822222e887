import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

/** A cache change other instances must apply to their own L1. */
export type CacheChange =
  | { readonly op: 'evict'; readonly key: string }
  | { readonly op: 'invalidate'; readonly prefix: string };

export interface L2Count {
  readonly entries: number;
  /** Sum of the stored values' lengths (STRLEN); Redis' own per-key overhead is not included. */
  readonly bytes: number;
}

export interface L2Cache {
  /** 'degraded' until the first connection is ready, and whenever Redis is unreachable or timing out. */
  status(): 'ok' | 'degraded';
  /** The stored JSON; null when Redis answered that there is none; undefined when Redis is unusable. Never throws. */
  get(key: string): Promise<string | null | undefined>;
  /** Resolves true when the value was stored. Never throws. */
  set(key: string, json: string, ttlMs: number): Promise<boolean>;
  /** Pushes the key's expiry out to `ttlMs` from now unless it already lives longer. Fire and forget. */
  extendTtl(key: string, ttlMs: number): void;
  /**
   * Deletes keys now, or, when Redis is unusable, remembers them and deletes them on recovery so a
   * disliked answer cannot come back with Redis. Resolves to the number of values deleted now.
   */
  delete(key: string): Promise<number>;
  /** Like delete, for every key starting with `prefix` ('' = all). */
  deleteByPrefix(prefix: string): Promise<number>;
  count(): Promise<L2Count | undefined>;
  /** Tells other instances sharing this Redis about a change (they receive it via onRemoteChange). */
  publish(change: CacheChange): void;
  close(): Promise<void>;
}

export interface L2CacheOptions {
  readonly redis: Redis;
  /** Namespace of every key and of the change channel, e.g. "switchyard:cache:". */
  readonly namespace: string;
  readonly cooldownMs: number;
  readonly logger: Logger;
  readonly now: () => number;
  /** Changes published by other instances. */
  readonly onRemoteChange: (change: CacheChange) => void;
}

/** Remembered deletions are bounded; beyond this, the oldest are dropped (and the drop is logged). */
const MAX_PENDING_DELETES = 10_000;
const SCAN_BATCH = 1_000;

/** PEXPIRE only when it lengthens the key's life (PEXPIRE … GT needs Redis 7; this runs on 6 too). */
const EXTEND_TTL_SCRIPT = `
local current = redis.call('PTTL', KEYS[1])
if current >= 0 and current < tonumber(ARGV[1]) then
  return redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 0`;

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Redis replied with an error: the server is reachable, so this says nothing about availability. */
function isReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError';
}

/**
 * Redis as the shared second layer. Availability is tracked from ioredis' connection events and
 * from command failures; each transition (lost / recovered) is logged once. While Redis is
 * unusable nothing is sent: the client is built without an offline queue, and a timed-out
 * connection is left alone for `cooldownMs` so a hung Redis costs one timeout per cooldown, not
 * one per request.
 */
export function createL2Cache(options: L2CacheOptions): L2Cache {
  const { redis, namespace, logger, now } = options;
  const channel = `${namespace}changes`;
  const origin = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  let state: 'connecting' | 'ok' | 'down' = redis.status === 'ready' ? 'ok' : 'connecting';
  let cooldownUntil = 0;
  const pendingKeys = new Set<string>();
  const pendingPrefixes = new Set<string>();
  let replaying = false;

  const redisKey = (key: string) => `${namespace}${key}`;

  function markDown(reason: string): void {
    if (state === 'down') return;
    const wasConnecting = state === 'connecting';
    state = 'down';
    logger.warn(
      { reason },
      wasConnecting
        ? 'cache L2 (Redis) unavailable at start-up; serving from L1 until it is reachable'
        : 'cache L2 (Redis) lost; serving from L1 until it returns',
    );
  }

  function markUp(): void {
    if (state === 'ok') return;
    const wasDown = state === 'down';
    state = 'ok';
    cooldownUntil = 0;
    if (wasDown) logger.info('cache L2 (Redis) recovered');
    else logger.debug('cache L2 (Redis) connected');
    void replayPending();
  }

  function usable(): boolean {
    return redis.status === 'ready' && now() >= cooldownUntil;
  }

  function commandFailed(error: unknown): void {
    if (isReplyError(error)) {
      logger.warn({ err: (error as Error).message }, 'cache L2 command rejected by Redis');
      return;
    }
    cooldownUntil = now() + options.cooldownMs;
    markDown((error as Error).message);
  }

  /** Runs a command if Redis is usable; undefined when skipped or failed. */
  async function attempt<T>(command: () => Promise<T>): Promise<T | undefined> {
    if (!usable()) return undefined;
    try {
      const result = await command();
      // A command succeeding after a timeout-induced outage is the recovery signal: no 'ready' comes.
      markUp();
      return result;
    } catch (error) {
      commandFailed(error);
      return undefined;
    }
  }

  async function scanDelete(prefix: string): Promise<number | undefined> {
    const match = `${escapeGlob(redisKey(prefix))}*`;
    let cursor = '0';
    let removed = 0;
    do {
      const page = await attempt(() => redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_BATCH));
      if (page === undefined) return undefined;
      cursor = page[0];
      if (page[1].length > 0) {
        const unlinked = await attempt(() => redis.unlink(...page[1]));
        if (unlinked === undefined) return undefined;
        removed += unlinked;
      }
    } while (cursor !== '0');
    return removed;
  }

  function remember(target: Set<string>, value: string): void {
    target.add(value);
    if (target.size > MAX_PENDING_DELETES) {
      const oldest = target.values().next().value as string;
      target.delete(oldest);
      logger.warn({ dropped: oldest }, 'too many cache deletions waiting for Redis; dropped the oldest');
    }
  }

  async function replayPending(): Promise<void> {
    if (replaying || (pendingKeys.size === 0 && pendingPrefixes.size === 0)) return;
    replaying = true;
    try {
      for (const prefix of [...pendingPrefixes]) {
        if ((await scanDelete(prefix)) === undefined) return;
        pendingPrefixes.delete(prefix);
        publish({ op: 'invalidate', prefix });
      }
      for (const key of [...pendingKeys]) {
        if ((await attempt(() => redis.unlink(redisKey(key)))) === undefined) return;
        pendingKeys.delete(key);
        publish({ op: 'evict', key });
      }
    } finally {
      replaying = false;
    }
  }

  function publish(change: CacheChange): void {
    if (!usable()) return;
    redis.publish(channel, JSON.stringify({ origin, ...change })).catch(commandFailed);
  }

  const onReady = () => markUp();
  const onLost = () => {
    if (redis.status !== 'ready') markDown('connection closed');
  };
  const onError = (error: Error) => {
    if (redis.status !== 'ready') markDown(error.message);
  };
  redis.on('ready', onReady);
  redis.on('close', onLost);
  redis.on('end', onLost);
  redis.on('error', onError);

  // A subscribed connection can run nothing else, so changes arrive on a second connection.
  // ioredis re-subscribes it after reconnects; subscribing again on 'ready' also covers a first
  // connection that failed (no offline queue holds the initial SUBSCRIBE).
  const subscriber = redis.duplicate();
  subscriber.on('error', (error: Error) => logger.debug({ err: error.message }, 'cache change subscriber error'));
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).catch((error: Error) => logger.debug({ err: error.message }, 'subscribe failed'));
  });
  subscriber.on('message', (_channel: string, message: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const change = parsed as { origin?: unknown; op?: unknown; key?: unknown; prefix?: unknown };
    if (change.origin === origin) return;
    if (change.op === 'evict' && typeof change.key === 'string') {
      options.onRemoteChange({ op: 'evict', key: change.key });
    } else if (change.op === 'invalidate' && typeof change.prefix === 'string') {
      options.onRemoteChange({ op: 'invalidate', prefix: change.prefix });
    }
  });

  return {
    status: () => (state === 'ok' ? 'ok' : 'degraded'),
    async get(key) {
      return attempt(() => redis.get(redisKey(key)));
    },
    async set(key, json, ttlMs) {
      const reply = await attempt(() => redis.set(redisKey(key), json, 'PX', Math.max(1, Math.round(ttlMs))));
      return reply === 'OK';
    },
    extendTtl(key, ttlMs) {
      void attempt(() => redis.eval(EXTEND_TTL_SCRIPT, 1, redisKey(key), Math.max(1, Math.round(ttlMs))));
    },
    async delete(key) {
      const removed = await attempt(() => redis.unlink(redisKey(key)));
      if (removed === undefined) {
        remember(pendingKeys, key);
        return 0;
      }
      publish({ op: 'evict', key });
      return removed;
    },
    async deleteByPrefix(prefix) {
      const removed = await scanDelete(prefix);
      if (removed === undefined) {
        remember(pendingPrefixes, prefix);
        return 0;
      }
      publish({ op: 'invalidate', prefix });
      return removed;
    },
    async count() {
      const match = `${escapeGlob(namespace)}*`;
      let cursor = '0';
      let entries = 0;
      let bytes = 0;
      do {
        const page = await attempt(() => redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_BATCH));
        if (page === undefined) return undefined;
        cursor = page[0];
        if (page[1].length === 0) continue;
        const lengths = await attempt(async () => {
          const pipeline = redis.pipeline();
          for (const key of page[1]) pipeline.strlen(key);
          const results = (await pipeline.exec()) ?? [];
          return results.map(([error, length]) => (error === null ? Number(length) : 0));
        });
        if (lengths === undefined) return undefined;
        entries += lengths.filter((length) => length > 0).length;
        bytes += lengths.reduce((sum, length) => sum + length, 0);
      } while (cursor !== '0');
      return { entries, bytes };
    },
    publish,
    async close() {
      redis.off('ready', onReady);
      redis.off('close', onLost);
      redis.off('end', onLost);
      redis.off('error', onError);
      subscriber.disconnect();
    },
  };
}
