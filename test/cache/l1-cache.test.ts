import { describe, expect, it } from 'vitest';
import { createCacheManager } from '../../src/cache/cache-manager.js';
import { createSilentLogger } from '../../src/logger.js';
import { answer, cacheConfig } from './cache-test-kit.js';

function l1Only(section: Record<string, unknown> = {}, clock = { now: 1_000_000 }) {
  return createCacheManager({
    config: cacheConfig(section),
    redis: null,
    keyPrefix: 't:',
    logger: createSilentLogger(),
    now: () => clock.now,
  });
}

function keyOf(cache: ReturnType<typeof l1Only>, text: string, arm?: string): string {
  const key = cache.keyFor({ messages: [{ role: 'user', content: text }], temperature: 0, arm });
  if (key === null) throw new Error('expected a cacheable request');
  return key;
}

describe('cache without Redis (L1 only)', () => {
  it('serves a stored answer from L1 and counts hits and misses', async () => {
    const cache = l1Only();
    const key = keyOf(cache, 'hello');
    expect(await cache.get(key)).toBeUndefined();
    await cache.set(key, answer('Hi there'));
    expect(await cache.get(key)).toEqual({ answer: answer('Hi there'), layer: 'l1' });
    const stats = cache.stats();
    expect(stats.l1).toMatchObject({ status: 'ok', entries: 1, hits: 1, misses: 1, hitRate: 0.5 });
    expect(stats.l1.bytes).toBeGreaterThan('Hi there'.length);
    expect(stats.l2).toMatchObject({ status: 'disabled', entries: null, bytes: null, hits: 0, misses: 0 });
    // No shared layer: serving still works, but the cache reports itself degraded.
    expect(stats).toMatchObject({ status: 'degraded', hits: 1, misses: 1 });
    expect(cache.status()).toBe('degraded');
  });

  it('is bounded by entry count, dropping the least recently used', async () => {
    const cache = l1Only({ l1: { maxEntries: 3 } });
    const keys = ['a', 'b', 'c', 'd', 'e'].map((text) => keyOf(cache, text));
    await cache.set(keys[0]!, answer('A'));
    await cache.set(keys[1]!, answer('B'));
    await cache.set(keys[2]!, answer('C'));
    await cache.get(keys[0]!); // a is now more recent than b
    await cache.set(keys[3]!, answer('D'));
    await cache.set(keys[4]!, answer('E'));
    expect(cache.stats().l1.entries).toBe(3);
    expect((await cache.get(keys[0]!))?.answer.text).toBe('A');
    expect(await cache.get(keys[1]!)).toBeUndefined();
    expect(await cache.get(keys[2]!)).toBeUndefined();
  });

  it('is bounded by bytes', async () => {
    const big = 'x'.repeat(1_000);
    const cache = l1Only({ l1: { maxEntries: 1_000, maxBytes: 6_000 } });
    for (let i = 0; i < 20; i += 1) await cache.set(keyOf(cache, `q${i}`), answer(`${i}${big}`));
    const { entries, bytes } = cache.stats().l1;
    expect(bytes).toBeLessThanOrEqual(6_000);
    // Each entry is ~1,270 bytes (1,002 of text, ~200 of JSON fields, 68 of key): four fit, five do not.
    expect(entries).toBe(4);
    // An answer larger than the whole bound is not stored at all.
    const huge = keyOf(cache, 'huge');
    await cache.set(huge, answer('y'.repeat(7_000)));
    expect(await cache.get(huge)).toBeUndefined();
  });

  it('expires entries after their TTL, and hits extend it within the bounds', async () => {
    const clock = { now: 1_000_000 };
    const cache = l1Only({ ttl: { minSeconds: 30, maxSeconds: 300, minSamples: 1_000 } }, clock);
    const once = keyOf(cache, 'asked once');
    const popular = keyOf(cache, 'asked often');
    await cache.set(once, answer('1'));
    await cache.set(popular, answer('2'));
    // Base TTL is 30 s (too few samples to move it). A hit at 20 s gives the popular entry
    // min(300, 30 * (1 + 1)) = 60 s from then.
    clock.now += 20_000;
    expect((await cache.get(popular))?.layer).toBe('l1');
    clock.now += 11_000; // 31 s after storing
    expect(await cache.get(once)).toBeUndefined();
    expect((await cache.get(popular))?.layer).toBe('l1'); // second hit: 90 s from now
    clock.now += 89_000;
    expect((await cache.get(popular))?.layer).toBe('l1');
    clock.now += 300_001; // beyond the maximum whatever the hit count
    expect(await cache.get(popular)).toBeUndefined();
  });

  it('shows the base TTL moving with the measured hit rate', async () => {
    const clock = { now: 1_000_000 };
    const cache = l1Only({ ttl: { minSeconds: 30, maxSeconds: 300, windowSeconds: 60, minSamples: 10 } }, clock);
    const key = keyOf(cache, 'popular');
    await cache.set(key, answer('p'));
    for (let i = 0; i < 10; i += 1) await cache.get(key);
    expect(cache.stats().ttl).toMatchObject({ baseSeconds: 300, windowLookups: 10, windowHitRate: 1 });
    expect(cache.stats().l1.ttlSeconds).toBe(300);
    clock.now += 60_000;
    for (let i = 0; i < 30; i += 1) await cache.get(keyOf(cache, `cold ${i}`));
    for (let i = 0; i < 10; i += 1) await cache.get(key);
    // 10 hits out of 40 lookups in the window: 30 + 270 * 0.25.
    expect(cache.stats().ttl.baseSeconds).toBeCloseTo(97.5, 9);
    expect(cache.stats().l1.ttlSeconds).toBeCloseTo(97.5, 9);
  });

  it('evicts one answer and invalidates by prefix or entirely', async () => {
    const cache = l1Only();
    const routed = keyOf(cache, 'routed');
    const pinnedFlash = keyOf(cache, 'pinned', 'flash');
    const pinnedSage = keyOf(cache, 'pinned', 'sage');
    for (const key of [routed, pinnedFlash, pinnedSage]) await cache.set(key, answer(key));

    await cache.evict(routed);
    expect(await cache.get(routed)).toBeUndefined();

    expect(await cache.invalidate('arm/flash/')).toBe(1);
    expect(await cache.get(pinnedFlash)).toBeUndefined();
    expect((await cache.get(pinnedSage))?.layer).toBe('l1');

    await cache.set(routed, answer('again'));
    expect(await cache.invalidate()).toBe(2);
    expect(cache.stats().l1.entries).toBe(0);
  });

  it('does nothing when disabled', async () => {
    const cache = l1Only({ enabled: false });
    await cache.set('any/abc', answer('x'));
    expect(await cache.get('any/abc')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ status: 'disabled', l1: { status: 'disabled' }, l2: { status: 'disabled' } });
  });
});
