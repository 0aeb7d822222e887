import { LRUCache } from 'lru-cache';
import type { CachedAnswer } from './cached-answer.js';

export interface L1Entry {
  readonly answer: CachedAnswer;
  /** Hits on this entry in this process since it was stored or filled from L2. */
  hits: number;
  /** UTF-8 bytes of the stored JSON plus the key: what counts against `maxBytes`. */
  readonly sizeBytes: number;
  /** When this process last pushed the entry's TTL to L2 (ms, injected clock). */
  l2RefreshedAt: number;
}

export interface L1Cache {
  get(key: string): L1Entry | undefined;
  /** Stores (or re-stores) an entry; its TTL counts from now. */
  set(key: string, entry: L1Entry, ttlMs: number): void;
  delete(key: string): boolean;
  /** Removes every key starting with `prefix` ('' = all); returns how many were removed. */
  deleteByPrefix(prefix: string): number;
  entries(): number;
  bytes(): number;
}

export interface L1CacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly now: () => number;
}

/** An in-process LRU bounded by entry count and by bytes, with a TTL per entry. */
export function createL1Cache(options: L1CacheOptions): L1Cache {
  // No `max`, for the reason createGrowingLru (src/growing-lru.ts) gives: lru-cache would size its
  // arrays by it at start-up (~0.4 MB at 10,000 entries, cache on or off). That helper spends
  // `maxSize` on the count; here it bounds bytes, so the count bound is kept in `set`.
  const lru = new LRUCache<string, L1Entry>({
    maxSize: options.maxBytes,
    sizeCalculation: (entry) => entry.sizeBytes,
    // Every set passes its own TTL; this only enables TTL tracking.
    ttl: 1,
    // Resolution 0: ask the clock on every check instead of caching it for a millisecond.
    ttlResolution: 0,
    perf: { now: options.now },
  });

  return {
    get: (key) => lru.get(key),
    set(key, entry, ttlMs) {
      lru.set(key, entry, { ttl: Math.max(1, Math.round(ttlMs)) });
      // The least recently used go first, as with lru-cache's own `max`.
      while (lru.size > options.maxEntries) lru.pop();
    },
    delete: (key) => lru.delete(key),
    deleteByPrefix(prefix) {
      if (prefix === '') {
        const removed = lru.size;
        lru.clear();
        return removed;
      }
      // Collect first: deleting while iterating an LRUCache skips entries.
      const doomed = [...lru.keys()].filter((key) => key.startsWith(prefix));
      for (const key of doomed) lru.delete(key);
      return doomed.length;
    },
    entries: () => lru.size,
    bytes: () => lru.calculatedSize,
  };
}
