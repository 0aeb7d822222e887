import { createRequire } from 'node:module';
import type { Histogram } from 'hdr-histogram-js';

/**
 * Time-windowed request statistics: a ring of per-interval buckets, each with counters and HDR
 * histograms of latency and time to first token. A window also keeps a running aggregate
 * histogram: what enters a bucket is added to the aggregate too, and a bucket that falls out of
 * the window is subtracted from it, so reading a window never merges its buckets. Samples reach
 * the windows through one pending bucket per series (createWindowSeries).
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
  /** Failed requests but the refused ones. */
  errors: number;
  /** Failed requests refused rather than failed by the model (see MeasuredSample.refused). */
  refused: number;
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
  /**
   * A failure refused rather than failed by the model: refused here (circuit open, Retry-After
   * pending, instance full) or by the provider as an invalid request (the caller's mistake). An
   * `error` still, but counted apart from the errors, so it cannot raise the model's error rate.
   */
  readonly refused?: boolean;
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
    refused: 0,
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
  // Loaded with the first histogram, i.e. the first request, not at start. Only the class that
  // hdr-histogram-js' `build` makes for 32-bit buckets without WebAssembly (the same constructor
  // call, `autoResize` false as the constructor leaves it): its index loads the WebAssembly build,
  // inlined as text, and pako for the log encoding too, ~15 MB resident and ~0.9 MB of heap
  // (docs/performance.md, "Tenth pass: start-up library heap"). The package has no exports map.
  let Int32Histogram: (new (lowest: number, highest: number, significantDigits: number) => Histogram) | undefined;
  const create = (): Histogram =>
    pool.pop() ??
    new (Int32Histogram ??= (createRequire(import.meta.url)('hdr-histogram-js/dist/Int32Histogram.js') as { default: NonNullable<typeof Int32Histogram> }).default)(
      1,
      highest,
      settings.significantDigits,
    );
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

/** Samples already summed: what a pending bucket hands to each window. */
interface Part {
  readonly totals: WindowTotals;
  readonly latency: Histogram | null;
  readonly ttft: Histogram | null;
}

interface Window {
  add(now: number, part: Part): void;
  view(now: number): WindowView;
}

function applySample(totals: WindowTotals, sample: MeasuredSample): void {
  totals.requests += 1;
  if (sample.shadow) totals.shadow += 1;
  totals.spendUsd += sample.costUsd;
  if (sample.error) {
    if (sample.refused) totals.refused += 1;
    else totals.errors += 1;
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

/** Adds a part's histogram into `into`, creating it on the first part that has one. */
function addHistogram(histograms: HistogramFactory, into: Histogram | null, from: Histogram | null): Histogram | null {
  if (!from) return into;
  const result = into ?? histograms.create();
  result.add(from);
  return result;
}

/**
 * A window of `bucketCount` buckets of `bucketMs` each; the window holds the current bucket and
 * the bucketCount - 1 before it, so it spans between (bucketCount - 1) and bucketCount buckets.
 */
function createRollingWindow(
  histograms: HistogramFactory,
  span: { readonly bucketMs: number; readonly bucketCount: number },
): Window {
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
    add(now, part) {
      const bucket = current(now);
      addTotals(bucket.totals, part.totals, 1);
      bucket.latency = addHistogram(histograms, bucket.latency, part.latency);
      bucket.ttft = addHistogram(histograms, bucket.ttft, part.ttft);
      latency = addHistogram(histograms, latency, part.latency);
      ttft = addHistogram(histograms, ttft, part.ttft);
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
function createCumulativeWindow(histograms: HistogramFactory): Window {
  const totals = emptyTotals();
  let latency: Histogram | null = null;
  let ttft: Histogram | null = null;
  return {
    add(_now, part) {
      addTotals(totals, part.totals, 1);
      latency = addHistogram(histograms, latency, part.latency);
      ttft = addHistogram(histograms, ttft, part.ttft);
    },
    view() {
      return { totals: { ...totals }, latency, ttft };
    },
  };
}

export type WindowName = 'lastMinute' | 'lastHour' | 'sinceStart';

/** One arm's, model's or context's figures over the last minute, the last hour and since start. */
export interface WindowSeries {
  record(now: number, sample: MeasuredSample): void;
  recordReward(now: number, reward: number): void;
  view(window: WindowName, now: number): WindowView;
}

export interface SeriesSpans {
  /** Bucket width of the last minute's window, and of the last hour's. */
  readonly minuteBucketMs: number;
  readonly hourBucketMs: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/**
 * The three windows fed from one pending bucket: a sample is recorded once, into the pending
 * bucket, and the pending bucket is added to every window when a sample falls into another
 * bucket of either rolling window, or when a window is read (views are computed once per
 * analyzer.sharedViewMs, so this costs a few histogram additions per interval instead of ten
 * histogram records per sample). Every pending sample lies in one bucket of each window, so each
 * window holds what it would hold had it recorded the samples one by one.
 */
export function createWindowSeries(histograms: HistogramFactory, spans: SeriesSpans): WindowSeries {
  const windows: Record<WindowName, Window> = {
    lastMinute: createRollingWindow(histograms, {
      bucketMs: spans.minuteBucketMs,
      bucketCount: MINUTE_MS / spans.minuteBucketMs,
    }),
    lastHour: createRollingWindow(histograms, { bucketMs: spans.hourBucketMs, bucketCount: HOUR_MS / spans.hourBucketMs }),
    sinceStart: createCumulativeWindow(histograms),
  };
  const pending = {
    /** Time of the pending bucket's first sample; NaN while it is empty. */
    at: Number.NaN,
    minuteIndex: 0,
    hourIndex: 0,
    totals: emptyTotals(),
    latency: null as Histogram | null,
    ttft: null as Histogram | null,
  };

  const flush = (): void => {
    if (Number.isNaN(pending.at)) return;
    windows.lastMinute.add(pending.at, pending);
    windows.lastHour.add(pending.at, pending);
    windows.sinceStart.add(pending.at, pending);
    pending.at = Number.NaN;
    pending.totals = emptyTotals();
    if (pending.latency) histograms.release(pending.latency);
    if (pending.ttft) histograms.release(pending.ttft);
    pending.latency = null;
    pending.ttft = null;
  };

  /** Opens the pending bucket for `now`, first handing on one that holds another bucket's samples. */
  const pendingAt = (now: number): WindowTotals => {
    const minuteIndex = Math.floor(now / spans.minuteBucketMs);
    const hourIndex = Math.floor(now / spans.hourBucketMs);
    // A clock that steps back keeps filling the pending bucket, as a window keeps filling its newest.
    if (!Number.isNaN(pending.at) && (minuteIndex > pending.minuteIndex || hourIndex > pending.hourIndex)) flush();
    if (Number.isNaN(pending.at)) {
      pending.at = now;
      pending.minuteIndex = minuteIndex;
      pending.hourIndex = hourIndex;
    }
    return pending.totals;
  };

  return {
    record(now, sample) {
      applySample(pendingAt(now), sample);
      if (sample.error || sample.cached) return;
      pending.latency ??= histograms.create();
      histograms.record(pending.latency, sample.latencyMs);
      if (sample.ttftMs !== null) {
        pending.ttft ??= histograms.create();
        histograms.record(pending.ttft, sample.ttftMs);
      }
    },
    recordReward(now, reward) {
      const totals = pendingAt(now);
      totals.rewards += 1;
      totals.rewardSum += reward;
    },
    view(window, now) {
      flush();
      return windows[window].view(now);
    },
  };
}

export function subtractTotals(a: WindowTotals, b: WindowTotals): WindowTotals {
  const result = { ...a };
  addTotals(result, b, -1);
  return result;
}
