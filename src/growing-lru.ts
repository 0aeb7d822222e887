import { LRUCache } from 'lru-cache';

/**
 * An LRU cache bounded by entry count whose memory grows with what it holds. lru-cache sizes its
 * internal arrays by `max` when it is built (about 1.9 MB of resident memory for 100,000 entries,
 * held from start-up whether or not a single entry is ever stored); bounded by `maxSize` with a
 * size of one per entry instead, the same count limit applies and the arrays grow on demand.
 * For the caches whose caps are large (the request store's session lists, client tallies).
 */
export function createGrowingLru<K extends {}, V extends {}>(
  maxEntries: number,
  options: Omit<LRUCache.Options<K, V, unknown>, 'max' | 'maxSize' | 'sizeCalculation' | 'maxEntrySize'> = {},
): LRUCache<K, V> {
  return new LRUCache<K, V>({ ...options, maxSize: Math.max(1, maxEntries), sizeCalculation: () => 1 });
}
