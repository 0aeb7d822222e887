import { createRequire } from 'node:module';
import type { Histogram } from 'hdr-histogram-js';

/**
 * Time-windowed request statistics: a ring of per-interval buckets, each with counters and HDR
 * histograms of latency and time to first token. A window also keeps a running aggregate
 * histogram: a sample is recorded into its bucket and the aggregate, and a bucket that falls out
 * of the window is subtracted from the aggregate, so reading a window never merges its buckets.
 */

export interface HistogramSettings {
  /** Smallest latency step distinguished; values are recorded as integer multiples of it. */
  readonly resolutionMs: number;
  /** Larger latencies are recorded as this. */
  readonly maxMs: number;
  readonly significantDigits: number;
}

export interface WindowTotals {
  requests: number;
  errors: number;
  cached: number;
  shadow: number;
  /** Requests that measured the model: neither failed nor served from the cache. */
  measured: number;
  completionTokens: number;
  /** Time spent generating after the first token, summed over measured requests with tokens. */
  generationMs: number;
  spendUsd: number;
  rewardSum: number;
  rewards: number;
}

/** What one request measured, whichever arm, model or context it is counted under. */
export interface MeasuredSample {
  /** Whole request, start to last byte. */
  readonly latencyMs: number;
  readonly ttftMs: number | null;
  readonly completionTokens: number;
  readonly costUsd: number;
  readonly error: boolean;
  /** Answered from the cache: counted, but says nothing about the model's speed. */
  readonly cached: boolean;
  /** A background shadow call. */
  readonly shadow: boolean;
}

export interface WindowView {
  readonly totals: WindowTotals;
  readonly latency: Histogram | null;
  readonly ttft: Histogram | null;
}

export function emptyTotals(): WindowTotals {
  return {
    requests: 0,
    errors: 0,
    cached: 0,
    shadow: 0,
    measured: 0,
    completionTokens: 0,
    generationMs: 0,
    spendUsd: 0,
    rewardSum: 0,
    rewards: 0,
  };
}

function addTotals(into: WindowTotals, from: WindowTotals, sign: 1 | -1): void {
  for (const key of Object.keys(into) as Array<keyof WindowTotals>) into[key] += sign * from[key];
}

const MAX_POOLED_HISTOGRAMS = 512;

export function createHistogramFactory(settings: HistogramSettings) {
  const highest = Math.max(2, Math.ceil(settings.maxMs / settings.resolutionMs));
  // Building a histogram costs ~50 times a reset, and sparse traffic opens a new bucket per
  // sample, so buckets that expire are recycled.
  const pool: Histogram[] = [];
  // hdr-histogram-js costs ~6 MB resident (its WebAssembly build is inlined as text): loaded with
  // the first histogram, i.e. the first request, not at start.
  let build: typeof import('hdr-histogram-js').build | undefined;
  const create = (): Histogram =>
    pool.pop() ??
    (build ??= (createRequire(import.meta.url)('hdr-histogram-js') as typeof import('hdr-histogram-js')).build)({
      bitBucketSize: 32,
      autoResize: false,
      lowestDiscernibleValue: 1,
      highestTrackableValue: highest,
      numberOfSignificantValueDigits: settings.significantDigits as 1 | 2 | 3 | 4 | 5,
      useWebAssembly: false,
    });
  return {
    create,
    /** Hands a histogram no longer referenced anywhere back for reuse. */
    release(histogram: Histogram): void {
      if (pool.length >= MAX_POOLED_HISTOGRAMS) return;
      histogram.reset();
      pool.push(histogram);
    },
    /** Records a latency, clamped into the trackable range. */
    record(histogram: Histogram, ms: number): void {
      histogram.recordValue(Math.min(highest, Math.max(0, Math.round(ms / settings.resolutionMs))));
    },
    /** Value at a percentile in ms (HDR reports the highest value equivalent to the bucket). */
    percentileMs(histogram: Histogram, percentile: number): number {
      return Math.round(histogram.getValueAtPercentile(percentile) * settings.resolutionMs * 1e6) / 1e6;
    },
    /** `a - b`, for windows where b's samples are a subset of a's. */
    difference(a: Histogram | null, b: Histogram | null): Histogram | null {
      if (!a) return null;
      const result = create();
      result.add(a);
      if (b) result.subtract(b);
      return result;
    },
  };
}

export type HistogramFactory = ReturnType<typeof createHistogramFactory>;

interface Bucket {
  readonly index: number;
  readonly totals: WindowTotals;
  latency: Histogram | null;
  ttft: Histogram | null;
}

export interface RollingWindow {
  record(now: number, sample: MeasuredSample): void;
  recordReward(now: number, reward: number): void;
  view(now: number): WindowView;
}

function applySample(totals: WindowTotals, sample: MeasuredSample): void {
  totals.requests += 1;
  if (sample.shadow) totals.shadow += 1;
  totals.spendUsd += sample.costUsd;
  if (sample.error) {
    totals.errors += 1;
    return;
  }
  if (sample.cached) {
    totals.cached += 1;
    return;
  }
  totals.measured += 1;
  if (sample.completionTokens > 0) {
    totals.completionTokens += sample.completionTokens;
    totals.generationMs += Math.max(0, sample.latencyMs - (sample.ttftMs ?? 0));
  }
}

/**
 * A window of `bucketCount` buckets of `bucketMs` each; the window holds the current bucket and
 * the bucketCount - 1 before it, so it spans between (bucketCount - 1) and bucketCount buckets.
 */
export function createRollingWindow(
  histograms: HistogramFactory,
  span: { readonly bucketMs: number; readonly bucketCount: number },
): RollingWindow {
  const buckets: Bucket[] = [];
  let latency: Histogram | null = null;
  let ttft: Histogram | null = null;

  const expire = (now: number): void => {
    const oldestKept = Math.floor(now / span.bucketMs) - span.bucketCount + 1;
    while (buckets.length > 0 && buckets[0]!.index < oldestKept) {
      const bucket = buckets.shift()!;
      if (bucket.latency) {
        latency!.subtract(bucket.latency);
        histograms.release(bucket.latency);
      }
      if (bucket.ttft) {
        ttft!.subtract(bucket.ttft);
        histograms.release(bucket.ttft);
      }
    }
  };

  const current = (now: number): Bucket => {
    expire(now);
    const index = Math.floor(now / span.bucketMs);
    const last = buckets.at(-1);
    // A clock that steps back keeps filling the newest bucket rather than reopening an old one.
    if (last && last.index >= index) return last;
    const bucket: Bucket = { index, totals: emptyTotals(), latency: null, ttft: null };
    buckets.push(bucket);
    return bucket;
  };

  return {
    record(now, sample) {
      const bucket = current(now);
      applySample(bucket.totals, sample);
      if (sample.error || sample.cached) return;
      bucket.latency ??= histograms.create();
      latency ??= histograms.create();
      histograms.record(bucket.latency, sample.latencyMs);
      histograms.record(latency, sample.latencyMs);
      if (sample.ttftMs !== null) {
        bucket.ttft ??= histograms.create();
        ttft ??= histograms.create();
        histograms.record(bucket.ttft, sample.ttftMs);
        histograms.record(ttft, sample.ttftMs);
      }
    },
    recordReward(now, reward) {
      const bucket = current(now);
      bucket.totals.rewards += 1;
      bucket.totals.rewardSum += reward;
    },
    view(now) {
      expire(now);
      // Counters are summed afresh (at most bucketCount additions) so no rounding drift builds up.
      const totals = emptyTotals();
      for (const bucket of buckets) addTotals(totals, bucket.totals, 1);
      return { totals, latency, ttft };
    },
  };
}

/** Everything since the analyzer started: one bucket that never expires. */
export function createCumulativeWindow(histograms: HistogramFactory): RollingWindow {
  const totals = emptyTotals();
  let latency: Histogram | null = null;
  let ttft: Histogram | null = null;
  return {
    record(_now, sample) {
      applySample(totals, sample);
      if (sample.error || sample.cached) return;
      latency ??= histograms.create();
      histograms.record(latency, sample.latencyMs);
      if (sample.ttftMs !== null) {
        ttft ??= histograms.create();
        histograms.record(ttft, sample.ttftMs);
      }
    },
    recordReward(_now, reward) {
      totals.rewards += 1;
      totals.rewardSum += reward;
    },
    view() {
      return { totals: { ...totals }, latency, ttft };
    },
  };
}

export function subtractTotals(a: WindowTotals, b: WindowTotals): WindowTotals {
  const result = { ...a };
  addTotals(result, b, -1);
  return result;
}
