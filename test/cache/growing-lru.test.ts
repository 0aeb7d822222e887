import { describe, expect, it } from 'vitest';
import { createGrowingLru } from '../../src/growing-lru.js';

describe('createGrowingLru', () => {
  it('holds at most maxEntries, evicting the least recently used, and reports each eviction', () => {
    const evicted: string[] = [];
    const lru = createGrowingLru<string, number>(3, { dispose: (_v, key, reason) => reason === 'evict' && evicted.push(key) });
    for (const key of ['a', 'b', 'c']) lru.set(key, 1);
    lru.get('a');
    lru.set('d', 1);
    lru.set('e', 1);
    expect([...lru.keys()].sort()).toEqual(['a', 'd', 'e']);
    expect(lru.size).toBe(3);
    expect(evicted).toEqual(['b', 'c']);
  });

  it('keeps the bound through many sets and deletes', () => {
    const lru = createGrowingLru<number, number>(100);
    for (let i = 0; i < 10_000; i++) {
      lru.set(i, i);
      if (i % 7 === 0) lru.delete(i - 3);
      expect(lru.size).toBeLessThanOrEqual(100);
    }
    expect(lru.size).toBe(100);
    expect(lru.get(9_999)).toBe(9_999);
  });

  it('honours the options it passes on (ttl)', () => {
    // lru-cache reads a start time of 0 as "no TTL", so the clock starts later.
    let now = 10_000;
    const lru = createGrowingLru<string, number>(10, { ttl: 1_000, ttlResolution: 0, perf: { now: () => now } });
    lru.set('a', 1);
    now = 10_999;
    expect(lru.get('a')).toBe(1);
    now = 11_001;
    expect(lru.get('a')).toBeUndefined();
  });
});
