import { describe, expect, it } from 'vitest';
import { createAdaptiveTtl } from '../../src/cache/adaptive-ttl.js';

function policy(clock: { now: number }) {
  return createAdaptiveTtl({ minSeconds: 30, maxSeconds: 300, windowSeconds: 100, minSamples: 20, hitGrowth: 1, now: () => clock.now });
}

function record(ttl: ReturnType<typeof policy>, hits: number, misses: number): void {
  for (let i = 0; i < hits; i += 1) ttl.recordLookup(true);
  for (let i = 0; i < misses; i += 1) ttl.recordLookup(false);
}

describe('adaptive TTL', () => {
  it('stays at the minimum until the window holds enough lookups', () => {
    const clock = { now: 0 };
    const ttl = policy(clock);
    record(ttl, 19, 0);
    expect(ttl.baseSeconds()).toBe(30);
    record(ttl, 1, 0);
    expect(ttl.baseSeconds()).toBe(300);
  });

  it('follows the windowed hit rate: base = min + (max - min) * hitRate', () => {
    const clock = { now: 1_000_000 };
    const ttl = policy(clock);
    record(ttl, 25, 75);
    expect(ttl.window()).toEqual({ lookups: 100, hits: 25, hitRate: 0.25 });
    expect(ttl.baseSeconds()).toBeCloseTo(30 + 270 * 0.25, 9);

    // The old lookups leave the window; a later period with a high hit rate raises the TTL.
    clock.now += 100_000;
    record(ttl, 90, 10);
    expect(ttl.window().lookups).toBe(100);
    expect(ttl.baseSeconds()).toBeCloseTo(30 + 270 * 0.9, 9);

    // And a period of misses brings it back down.
    clock.now += 100_000;
    record(ttl, 0, 50);
    expect(ttl.baseSeconds()).toBe(30);
  });

  it('slides: half of an older period still counts', () => {
    const clock = { now: 0 };
    const ttl = policy(clock);
    clock.now = 0;
    record(ttl, 40, 0); // bucket 0
    clock.now = 50_000;
    record(ttl, 0, 40); // bucket 5
    expect(ttl.window().hitRate).toBe(0.5);
    clock.now = 100_000; // bucket 0 has left the window, bucket 5 has not
    expect(ttl.window()).toEqual({ lookups: 40, hits: 0, hitRate: 0 });
  });

  it('lets often-hit entries live longer, never beyond the bounds', () => {
    const clock = { now: 0 };
    const ttl = policy(clock);
    record(ttl, 0, 100); // hit rate 0: base = min
    expect(ttl.entrySeconds(0)).toBe(30);
    expect(ttl.entrySeconds(1)).toBe(60);
    expect(ttl.entrySeconds(3)).toBe(120);
    expect(ttl.entrySeconds(1_000)).toBe(300);
    for (let hits = 0; hits < 50; hits += 1) {
      expect(ttl.entrySeconds(hits)).toBeGreaterThanOrEqual(30);
      expect(ttl.entrySeconds(hits)).toBeLessThanOrEqual(300);
    }
  });
});
