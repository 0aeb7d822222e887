import type { Redis } from 'ioredis';
import type { CacheConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { createAdaptiveTtl } from './adaptive-ttl.js';
import { cacheKey, type CacheKeyInput } from './cache-key.js';
import { parseCachedAnswer, type CachedAnswer } from './cached-answer.js';
import { createL1Cache, type L1Entry } from './l1-cache.js';
import { createL2Cache, type L2Cache, type L2Count } from './l2-cache.js';

export type { CachedAnswer } from './cached-answer.js';
export type { CacheKeyInput } from './cache-key.js';
export { scopePrefix } from './cache-key.js';

export type CacheLayerStatus = 'ok' | 'degraded' | 'disabled';

export interface CacheLayerStats {
  readonly status: CacheLayerStatus;
  /** L2: from the latest background count (null before the first one, or when L2 is disabled). */
  readonly entries: number | null;
  readonly bytes: number | null;
  readonly hits: number;
  /** L1: lookups not found in L1. L2: lookups that reached L2 and missed (skipped lookups while L2 is down are not counted). */
  readonly misses: number;
  /** hits / (hits + misses); 0 before any lookup. */
  readonly hitRate: number;
  /** TTL a fresh entry gets now (both layers share the adaptive base TTL). */
  readonly ttlSeconds: number;
}

export interface CacheStats {
  readonly status: CacheLayerStatus;
  readonly l1: CacheLayerStats;
  readonly l2: CacheLayerStats & {
    /** When `entries`/`bytes` were counted (epoch ms), null if never. */
    readonly countedAt: number | null;
  };
  /** Lookups answered by either layer / not answered by any. */
  readonly hits: number;
  readonly misses: number;
  readonly hitRate: number;
  readonly ttl: {
    readonly baseSeconds: number;
    readonly minSeconds: number;
    readonly maxSeconds: number;
    readonly hitGrowth: number;
    readonly windowSeconds: number;
    readonly minSamples: number;
    readonly windowLookups: number;
    readonly windowHitRate: number;
  };
}

export interface CacheManager {
  /** null = not cacheable (cache disabled, or temperature above the threshold). */
  keyFor(input: CacheKeyInput): string | null;
  /** Whether answers generated at this temperature may be cached (enabled, under the threshold). */
  cacheable(temperature: number | undefined): boolean;
  /** Never throws; an L2 hit fills L1. */
  get(key: string): Promise<{ answer: CachedAnswer; layer: 'l1' | 'l2' } | undefined>;
  /** Never throws; the TTL comes from the adaptive policy. Resolves once L2 has the value (or failed). */
  set(key: string, answer: CachedAnswer): Promise<void>;
  /** Removes the answer from L1, L2 and the other instances' L1 (negative feedback). */
  evict(key: string): Promise<void>;
  /**
   * Removes every key starting with `prefix` (all when absent or ''); see `scopePrefix`. Returns
   * copies removed here: L1 entries + L2 values (an answer in both layers counts twice). Other
   * instances drop their L1 copies too; their count is not included.
   */
  invalidate(prefix?: string): Promise<number>;
  /** Synchronous snapshot; starts a background L2 count when the last one is older than `l2.statsRefreshMs`. */
  stats(): CacheStats;
  /** Counts L2 now, then returns the snapshot. */
  refreshStats(): Promise<CacheStats>;
  /**
   * The snapshot, after counting L2 when the last count is older than `l2.statsRefreshMs`: fresh
   * figures for an operator without a full SCAN per call (concurrent callers share one count).
   */
  currentStats(): Promise<CacheStats>;
  /** 'disabled' when the cache is off; 'degraded' when L2 is not configured or unreachable; else 'ok'. */
  status(): CacheLayerStatus;
  /** Detaches from the Redis client (and closes the change subscription); the client's owner quits it. */
  close(): Promise<void>;
}

export interface CacheManagerDeps {
  readonly config: CacheConfig;
  /** null = no L2 configured. */
  readonly redis: Redis | null;
  /** Per-deployment Redis key prefix (config redis.keyPrefix); the cache adds "cache:" under it. */
  readonly keyPrefix: string;
  readonly logger: Logger;
  /** Milliseconds clock, injectable for tests. */
  readonly now?: () => number;
}

/** Bytes an entry counts against L1's bound: its JSON and key (strings dominate the real heap cost). */
function entrySize(key: string, json: string): number {
  return Buffer.byteLength(json) + Buffer.byteLength(key);
}

function hitRate(hits: number, misses: number): number {
  return hits + misses === 0 ? 0 : hits / (hits + misses);
}

export function createCacheManager(deps: CacheManagerDeps): CacheManager {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger.child({ component: 'cache' });

  const cacheable = (temperature: number | undefined): boolean =>
    config.enabled && (temperature === undefined || temperature <= config.maxTemperature || config.cacheHighTemperature);
  const ttl = createAdaptiveTtl({ ...config.ttl, now });
  const l1 = createL1Cache({ ...config.l1, now });
  const counters = { l1Hits: 0, l1Misses: 0, l2Hits: 0, l2Misses: 0, hits: 0, misses: 0 };
  let l2Count: (L2Count & { countedAt: number }) | null = null;
  let counting: Promise<void> | null = null;

  const l2: L2Cache | null =
    config.enabled && deps.redis !== null
      ? createL2Cache({
          redis: deps.redis,
          namespace: `${deps.keyPrefix}cache:`,
          cooldownMs: config.l2.cooldownMs,
          logger,
          now,
          onRemoteChange: (change) => {
            if (change.op === 'evict') l1.delete(change.key);
            else l1.deleteByPrefix(change.prefix);
          },
        })
      : null;
  if (config.enabled && l2 === null) logger.warn('no Redis configured: the cache runs degraded, with L1 only');

  function l2Status(): CacheLayerStatus {
    return l2 === null ? 'disabled' : l2.status();
  }

  // Without a shared L2, instances cannot serve each other's answers, so running L1-only is a
  // degradation even when intended; the L2 layer's own status ('disabled') says why.
  function status(): CacheLayerStatus {
    if (!config.enabled) return 'disabled';
    return l2Status() === 'ok' ? 'ok' : 'degraded';
  }

  function fillL1(key: string, answer: CachedAnswer, json: string, hits: number): L1Entry {
    const entry: L1Entry = { answer, hits, sizeBytes: entrySize(key, json), l2RefreshedAt: now() };
    l1.set(key, entry, ttl.entrySeconds(hits) * 1000);
    return entry;
  }

  async function countL2(): Promise<void> {
    if (l2 === null) return;
    counting ??= (async () => {
      const counted = await l2.count();
      if (counted !== undefined) l2Count = { ...counted, countedAt: now() };
    })().finally(() => {
      counting = null;
    });
    await counting;
  }

  function l2CountStale(): boolean {
    return l2 !== null && l2.status() === 'ok' && now() - (l2Count?.countedAt ?? -Infinity) >= config.l2.statsRefreshMs;
  }

  function stats(): CacheStats {
    const base = ttl.baseSeconds();
    const window = ttl.window();
    if (l2CountStale()) void countL2();
    return {
      status: status(),
      l1: {
        status: config.enabled ? 'ok' : 'disabled',
        entries: l1.entries(),
        bytes: l1.bytes(),
        hits: counters.l1Hits,
        misses: counters.l1Misses,
        hitRate: hitRate(counters.l1Hits, counters.l1Misses),
        ttlSeconds: base,
      },
      l2: {
        status: l2Status(),
        entries: l2Count?.entries ?? null,
        bytes: l2Count?.bytes ?? null,
        countedAt: l2Count?.countedAt ?? null,
        hits: counters.l2Hits,
        misses: counters.l2Misses,
        hitRate: hitRate(counters.l2Hits, counters.l2Misses),
        ttlSeconds: base,
      },
      hits: counters.hits,
      misses: counters.misses,
      hitRate: hitRate(counters.hits, counters.misses),
      ttl: {
        baseSeconds: base,
        minSeconds: config.ttl.minSeconds,
        maxSeconds: config.ttl.maxSeconds,
        hitGrowth: config.ttl.hitGrowth,
        windowSeconds: config.ttl.windowSeconds,
        minSamples: config.ttl.minSamples,
        windowLookups: window.lookups,
        windowHitRate: window.hitRate,
      },
    };
  }

  function recordLookup(hit: boolean): void {
    ttl.recordLookup(hit);
    if (hit) counters.hits += 1;
    else counters.misses += 1;
  }

  return {
    keyFor(input) {
      if (!cacheable(input.temperature)) return null;
      return cacheKey(input, { keyIncludesTags: config.keyIncludesTags });
    },
    cacheable,

    async get(key) {
      if (!config.enabled) return undefined;
      const entry = l1.get(key);
      if (entry !== undefined) {
        counters.l1Hits += 1;
        recordLookup(true);
        entry.hits += 1;
        const ttlMs = ttl.entrySeconds(entry.hits) * 1000;
        l1.set(key, entry, ttlMs);
        // Pushing the longer life to L2 on every hit would make each L1 hit a Redis write; once per
        // quarter TTL keeps L2 within 25% of it.
        if (l2 !== null && now() - entry.l2RefreshedAt >= ttlMs / 4) {
          entry.l2RefreshedAt = now();
          l2.extendTtl(key, ttlMs);
        }
        return { answer: entry.answer, layer: 'l1' };
      }
      counters.l1Misses += 1;

      if (l2 !== null) {
        const json = await l2.get(key);
        const answer = typeof json === 'string' ? parseCachedAnswer(json) : undefined;
        if (typeof json === 'string' && answer !== undefined) {
          counters.l2Hits += 1;
          recordLookup(true);
          // This lookup is the entry's first hit as far as this process knows.
          fillL1(key, answer, json, 1);
          l2.extendTtl(key, ttl.entrySeconds(1) * 1000);
          return { answer, layer: 'l2' };
        }
        if (typeof json === 'string') {
          // Removing it keeps this warning to once per bad value instead of once per request.
          logger.warn({ key }, 'unreadable value in cache L2; deleted and treated as a miss');
          await l2.delete(key);
        }
        if (json !== undefined) counters.l2Misses += 1;
      }
      recordLookup(false);
      return undefined;
    },

    async set(key, answer) {
      if (!config.enabled) return;
      try {
        const json = JSON.stringify(answer);
        fillL1(key, answer, json, 0);
        if (l2 !== null) await l2.set(key, json, ttl.entrySeconds(0) * 1000);
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'cache store failed');
      }
    },

    async evict(key) {
      l1.delete(key);
      if (l2 !== null) await l2.delete(key);
    },

    async invalidate(prefix = '') {
      const removedL1 = l1.deleteByPrefix(prefix);
      const removedL2 = l2 === null ? 0 : await l2.deleteByPrefix(prefix);
      logger.info({ prefix, removedL1, removedL2 }, 'cache invalidated');
      return removedL1 + removedL2;
    },

    stats,

    async refreshStats() {
      await countL2();
      return stats();
    },

    async currentStats() {
      if (l2CountStale()) await countL2();
      return stats();
    },

    status,

    async close() {
      await counting;
      await l2?.close();
    },
  };
}
