export interface AdaptiveTtlOptions {
  readonly minSeconds: number;
  readonly maxSeconds: number;
  readonly windowSeconds: number;
  readonly minSamples: number;
  readonly hitGrowth: number;
  /** Milliseconds clock, injectable for tests. */
  readonly now: () => number;
}

export interface HitRateWindow {
  readonly lookups: number;
  readonly hits: number;
  /** hits / lookups, 0 when the window is empty. */
  readonly hitRate: number;
}

export interface AdaptiveTtl {
  recordLookup(hit: boolean): void;
  /** The TTL a fresh entry gets now. */
  baseSeconds(): number;
  /** The TTL of an entry that has been hit `hits` times, counted from its latest hit. */
  entrySeconds(hits: number): number;
  window(): HitRateWindow;
}

/** The window is kept as this many buckets, so it slides in steps of a tenth of its length. */
const BUCKETS = 10;

interface Bucket {
  id: number;
  hits: number;
  misses: number;
}

/**
 * base = min + (max − min) · h, with h the hit rate of the lookups in the last `windowSeconds`
 * (base = min until the window holds `minSamples` lookups). A high hit rate means answers are being
 * reused, so keeping them longer pays; a low one means most entries are never read again, so they
 * should make room quickly.
 *
 * entry = min(max, base · (1 + hitGrowth · hits)): each hit extends an entry by `hitGrowth` base
 * TTLs, so popular answers outlive one-offs. The result is always within [min, max].
 */
export function createAdaptiveTtl(options: AdaptiveTtlOptions): AdaptiveTtl {
  const bucketMs = (options.windowSeconds * 1000) / BUCKETS;
  const buckets: Bucket[] = Array.from({ length: BUCKETS }, () => ({ id: -1, hits: 0, misses: 0 }));

  function currentBucketId(): number {
    return Math.floor(options.now() / bucketMs);
  }

  function window(): HitRateWindow {
    const current = currentBucketId();
    let hits = 0;
    let misses = 0;
    for (const bucket of buckets) {
      if (bucket.id > current - BUCKETS && bucket.id <= current) {
        hits += bucket.hits;
        misses += bucket.misses;
      }
    }
    const lookups = hits + misses;
    return { lookups, hits, hitRate: lookups === 0 ? 0 : hits / lookups };
  }

  function baseSeconds(): number {
    const { lookups, hitRate } = window();
    if (lookups < options.minSamples) return options.minSeconds;
    return options.minSeconds + (options.maxSeconds - options.minSeconds) * hitRate;
  }

  return {
    recordLookup(hit) {
      const id = currentBucketId();
      const bucket = buckets[((id % BUCKETS) + BUCKETS) % BUCKETS]!;
      if (bucket.id !== id) {
        bucket.id = id;
        bucket.hits = 0;
        bucket.misses = 0;
      }
      if (hit) bucket.hits += 1;
      else bucket.misses += 1;
    },
    baseSeconds,
    entrySeconds(hits) {
      const seconds = baseSeconds() * (1 + options.hitGrowth * Math.max(0, hits));
      return Math.min(options.maxSeconds, Math.max(options.minSeconds, seconds));
    },
    window,
  };
}
