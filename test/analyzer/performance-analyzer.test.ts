import { describe, expect, it } from 'vitest';
import { configSchemas, type AnalyzerConfig } from '../../src/config/schema.js';
import { estimateRegret, type BanditArmView, type BanditView } from '../../src/analyzer/bandit-view.js';
import {
  OTHER_CONTEXT,
  createPerformanceAnalyzer,
  type RequestSample,
} from '../../src/analyzer/performance-analyzer.js';
import { createRng, sampleNormal } from '../../src/router/random.js';

const EMPTY_VIEW: BanditView = { arms: [] };

function sample(overrides: Partial<RequestSample> = {}): RequestSample {
  return {
    armId: 'fast',
    modelId: 'm-fast',
    context: 'general',
    latencyMs: 100,
    ttftMs: 20,
    completionTokens: 40,
    costUsd: 0.001,
    error: false,
    cached: false,
    ...overrides,
  };
}

function config(overrides: Record<string, unknown> = {}): AnalyzerConfig {
  return configSchemas().analyzerSchema.parse(overrides);
}

/** Nearest-rank percentile, the definition HdrHistogram uses: the ceil(p/100 * n)-th smallest value. */
function nearestRank(sorted: readonly number[], percentile: number): number {
  return sorted[Math.max(1, Math.ceil((percentile / 100) * sorted.length)) - 1]!;
}

/** Default histograms keep 2 significant digits: a reported value is within 1% above the exact one. */
function expectWithinHdr(reported: number, exact: number): void {
  expect(reported).toBeGreaterThanOrEqual(exact - 0.05);
  expect(reported).toBeLessThanOrEqual(exact * 1.01 + 0.05);
}

function armView(overrides: Partial<BanditArmView> & { armId: string }): BanditArmView {
  return {
    modelId: `m-${overrides.armId}`,
    context: '*',
    pulls: 100,
    posteriorMean: 0.5,
    lower95: 0.4,
    upper95: 0.6,
    probabilityBest: 0.3,
    ...overrides,
  };
}

describe('performance analyzer percentiles', () => {
  for (const significantDigits of [2, 3] as const) {
    it(`agree with a direct computation (${significantDigits} significant digits)`, () => {
      const resolutionMs = 0.1;
      const analyzer = createPerformanceAnalyzer({
        now: () => 1_000,
        config: config({ histogram: { resolutionMs, maxMs: 600_000, significantDigits } }),
      });
      const rng = createRng(42);
      const latencies: number[] = [];
      const ttfts: number[] = [];
      for (let i = 0; i < 5_000; i++) {
        // Log-normal around 400 ms with a long tail, like real model latencies.
        const latencyMs = Math.exp(Math.log(400) + 0.8 * sampleNormal(rng));
        const ttftMs = latencyMs * (0.05 + 0.3 * rng());
        latencies.push(latencyMs);
        ttfts.push(ttftMs);
        analyzer.record(sample({ latencyMs, ttftMs }));
      }
      const windows = analyzer.snapshot(EMPTY_VIEW).arms[0]!.windows;
      for (const [values, reported] of [
        [latencies, windows.sinceStart.latencyMs!],
        [ttfts, windows.sinceStart.ttftMs!],
      ] as const) {
        const sorted = [...values].sort((a, b) => a - b);
        expect(reported.count).toBe(values.length);
        for (const p of [50, 95, 99] as const) {
          const exact = nearestRank(sorted, p);
          const got = reported[`p${p}`];
          // HDR with d significant digits keeps 2^ceil(log2(2 * 10^d)) sub-buckets, so a bucket is at
          // most value / 2^(ceil(log2(2 * 10^d)) - 1) < value * 10^-d wide, and it reports the bucket's
          // highest value: exact <= got < exact * (1 + 10^-d). Recording rounds to resolutionMs,
          // which moves a value by at most resolutionMs / 2 either way.
          expect(got).toBeGreaterThanOrEqual(exact - resolutionMs / 2);
          expect(got).toBeLessThanOrEqual(exact * (1 + 10 ** -significantDigits) + resolutionMs / 2);
        }
        // The three windows hold the same samples here, so they report the same figures.
        expect(windows.lastMinute.latencyMs).toEqual(windows.sinceStart.latencyMs);
        expect(windows.lastHour.ttftMs).toEqual(windows.sinceStart.ttftMs);
      }
    });
  }
});

describe('performance analyzer windows', () => {
  it('roll off the last minute and the last hour as the clock moves', () => {
    let now = 0;
    const analyzer = createPerformanceAnalyzer({ now: () => now });
    for (let i = 0; i < 10; i++) analyzer.record(sample({ latencyMs: 100, costUsd: 0.01 }));
    analyzer.recordReward('fast', 'general', 1);
    now = 90_000;
    for (let i = 0; i < 5; i++) analyzer.record(sample({ latencyMs: 1_000, costUsd: 0.02, error: i === 0 }));
    analyzer.recordReward('fast', 'general', 0);

    let windows = analyzer.snapshot(EMPTY_VIEW).arms[0]!.windows;
    expect(windows.lastMinute.requests).toBe(5);
    expect(windows.lastMinute.errors).toBe(1);
    expect(windows.lastMinute.errorRate).toBeCloseTo(0.2, 12);
    expectWithinHdr(windows.lastMinute.latencyMs!.p50, 1_000);
    expect(windows.lastMinute.latencyMs!.count).toBe(4);
    expect(windows.lastMinute.spendUsd).toBeCloseTo(0.1, 12);
    expect(windows.lastMinute.meanReward).toBe(0);
    expect(windows.lastHour.requests).toBe(15);
    expectWithinHdr(windows.lastHour.latencyMs!.p50, 100);
    expect(windows.lastHour.meanReward).toBe(0.5);
    expect(windows.sinceStart.requests).toBe(15);

    // 59 s after the last samples they are still in the minute (its bucket is the oldest kept one).
    now = 149_999;
    expect(analyzer.snapshot(EMPTY_VIEW).arms[0]!.windows.lastMinute.requests).toBe(5);
    now = 150_000;
    windows = analyzer.snapshot(EMPTY_VIEW).arms[0]!.windows;
    expect(windows.lastMinute.requests).toBe(0);
    expect(windows.lastMinute.latencyMs).toBeNull();
    expect(windows.lastMinute.meanReward).toBeNull();
    expect(windows.lastHour.requests).toBe(15);

    // The first samples sit in minute bucket 0, the later ones in bucket 1.
    now = 3_600_000;
    windows = analyzer.snapshot(EMPTY_VIEW).arms[0]!.windows;
    expect(windows.lastHour.requests).toBe(5);
    expectWithinHdr(windows.lastHour.latencyMs!.p50, 1_000);
    now = 3_660_000;
    windows = analyzer.snapshot(EMPTY_VIEW).arms[0]!.windows;
    expect(windows.lastHour.requests).toBe(0);
    expect(windows.lastHour.latencyMs).toBeNull();
    expect(windows.sinceStart.requests).toBe(15);
    expect(windows.sinceStart.spendUsd).toBeCloseTo(0.2, 12);
    expect(windows.sinceStart.meanReward).toBe(0.5);

    // A window that emptied fills again correctly.
    analyzer.record(sample({ latencyMs: 250 }));
    windows = analyzer.snapshot(EMPTY_VIEW).arms[0]!.windows;
    expect(windows.lastMinute.latencyMs).toMatchObject({ count: 1 });
    expectWithinHdr(windows.lastMinute.latencyMs!.p99, 250);
  });

  it('report the same figures however often they are read (samples wait in one pending bucket per series)', () => {
    // Two analyzers fed the same samples on the same clock, one read after every few samples, the
    // other only at the checks: reading hands the pending samples to the windows, so the figures
    // must not depend on when that happened. Costs and rewards are exact binary fractions, so sums
    // taken in another grouping are equal, not merely close.
    const rng = createRng(7);
    let now = 1_000;
    const readOften = createPerformanceAnalyzer({ now: () => now });
    const readAtChecks = createPerformanceAnalyzer({ now: () => now });
    // Each sample's minute bucket: a clock that steps back fills the newest bucket.
    const minuteBuckets: number[] = [];
    for (let i = 0; i < 3_000; i++) {
      // Mostly forward within a bucket, now and then across buckets or hours, once in a while back.
      const step = rng() < 0.02 ? -300 : rng() < 0.002 ? 1_800_000 * rng() : 2_000 * rng();
      now = Math.max(0, now + step);
      const recorded = sample({
        armId: rng() < 0.5 ? 'fast' : 'slow',
        context: rng() < 0.3 ? 'code' : 'general',
        latencyMs: 50 + 500 * rng(),
        ttftMs: rng() < 0.1 ? null : 5 + 40 * rng(),
        costUsd: Math.floor(rng() * 8) / 1024,
        error: rng() < 0.05,
        cached: rng() < 0.05,
      });
      readOften.record(recorded);
      readAtChecks.record(recorded);
      minuteBuckets.push(Math.max(Math.floor(now / 1_000), minuteBuckets.at(-1) ?? 0));
      if (rng() < 0.1) {
        const reward = Math.floor(rng() * 3) / 2;
        readOften.recordReward(recorded.armId, recorded.context, reward);
        readAtChecks.recordReward(recorded.armId, recorded.context, reward);
      }
      if (i % 7 === 0) readOften.snapshot(EMPTY_VIEW);
      if (rng() < 0.01) {
        const often = readOften.snapshot(EMPTY_VIEW);
        expect(often).toEqual(readAtChecks.snapshot(EMPTY_VIEW));
        const oldestKept = Math.floor(now / 1_000) - 59;
        expect(often.models[0]!.windows.lastMinute.requests).toBe(minuteBuckets.filter((b) => b >= oldestKept).length);
        expect(often.models[0]!.windows.sinceStart.requests).toBe(minuteBuckets.length);
      }
    }
  });

  it('aggregates per arm, per model and per context', () => {
    const analyzer = createPerformanceAnalyzer({ now: () => 5_000 });
    analyzer.record(sample({ armId: 'a1', modelId: 'shared', context: 'code', latencyMs: 1_100, ttftMs: 100, completionTokens: 50 }));
    analyzer.record(sample({ armId: 'a2', modelId: 'shared', context: 'chat', latencyMs: 600, ttftMs: 100, completionTokens: 50 }));
    analyzer.record(sample({ armId: 'a2', modelId: 'shared', context: 'chat', cached: true, latencyMs: 1, costUsd: 0 }));
    analyzer.record(sample({ armId: 'a2', modelId: 'shared', context: 'code', error: true, costUsd: 0 }));
    analyzer.record(sample({ armId: 'a3', modelId: 'other', context: 'code', shadow: true, costUsd: 0.5 }));
    analyzer.recordReward('a1', 'code', 0.9);
    analyzer.recordReward('a2', 'chat', 0.3);

    const snapshot = analyzer.snapshot(EMPTY_VIEW);
    const shared = snapshot.models.find((m) => m.modelId === 'shared')!;
    expect(shared.armIds).toEqual(['a1', 'a2']);
    expect(shared.windows.lastMinute).toMatchObject({ requests: 4, errors: 1, cachedRequests: 1, errorRate: 0.25 });
    // 100 tokens over (1000 + 500) ms of generation.
    expect(shared.windows.lastMinute.tokensPerSecond).toBeCloseTo(100 / 1.5, 9);
    expect(shared.windows.lastMinute.latencyMs!.count).toBe(2);
    expect(shared.windows.lastMinute.meanReward).toBeCloseTo(0.6, 12);

    const a2 = snapshot.arms.find((a) => a.armId === 'a2')!;
    expect(a2.windows.sinceStart).toMatchObject({ requests: 3, errors: 1, cachedRequests: 1 });
    expect(a2.windows.sinceStart.tokensPerSecond).toBeCloseTo(100, 9);

    const code = snapshot.contexts.find((c) => c.context === 'code')!;
    expect(code.windows.sinceStart).toMatchObject({ requests: 3, errors: 1, shadowRequests: 1 });
    expect(code.windows.sinceStart.spendUsd).toBeCloseTo(0.501, 12);
    expect(code.arms.map((a) => a.armId)).toEqual(['a1', 'a2', 'a3']);
    expect(code.arms.find((a) => a.armId === 'a2')!.windows.sinceStart.requests).toBe(1);
    expect(snapshot.contexts.map((c) => c.context)).toEqual(['chat', 'code']);
  });

  it('folds contexts beyond maxContexts into one', () => {
    const analyzer = createPerformanceAnalyzer({ now: () => 0, config: config({ maxContexts: 2 }) });
    for (const context of ['a', 'b', 'c', 'd', 'a']) analyzer.record(sample({ context }));
    const contexts = analyzer.snapshot(EMPTY_VIEW).contexts;
    expect(contexts.map((c) => [c.context, c.windows.sinceStart.requests])).toEqual([
      [OTHER_CONTEXT, 2],
      ['a', 2],
      ['b', 1],
    ]);
  });
});

describe('regret and bandit figures', () => {
  it('estimates regret per context as pulls times the gap to the best posterior mean', () => {
    const view: BanditView = {
      arms: [
        armView({ armId: 'a', context: 'x', pulls: 100, posteriorMean: 0.8 }),
        armView({ armId: 'b', context: 'x', pulls: 50, posteriorMean: 0.6 }),
        armView({ armId: 'a', context: 'y', pulls: 10, posteriorMean: 0.3 }),
        armView({ armId: 'b', context: 'y', pulls: 40, posteriorMean: 0.7 }),
        armView({ armId: 'a', context: '*', pulls: 110, posteriorMean: 0.75 }),
        armView({ armId: 'b', context: '*', pulls: 90, posteriorMean: 0.65 }),
      ],
    };
    const regret = estimateRegret(view);
    expect(regret.byContext.get('x')!.total).toBeCloseTo(50 * 0.2, 12);
    expect(regret.byContext.get('y')!.total).toBeCloseTo(10 * 0.4, 12);
    expect(regret.byContext.get('*')!.total).toBeCloseTo(90 * 0.1, 12);
    expect(regret.total).toBeCloseTo(14, 12);
    expect(regret.byArm.get('a')).toBeCloseTo(4, 12);

    const snapshot = createPerformanceAnalyzer({ now: () => 0 }).snapshot(view);
    expect(snapshot.regret).toBeCloseTo(14, 12);
    const a = snapshot.arms.find((r) => r.armId === 'a')!;
    expect(a.bandit).toMatchObject({ pulls: 110, posteriorMean: 0.75, probabilityBest: 0.3 });
    expect(a.bandit!.regret).toBeCloseTo(4, 12);
    const y = snapshot.contexts.find((c) => c.context === 'y')!;
    expect(y.bestArmId).toBe('b');
    expect(y.regret).toBeCloseTo(4, 12);
  });
});

describe('recommendations', () => {
  function healthyTraffic(now: { t: number }, analyzer: ReturnType<typeof createPerformanceAnalyzer>) {
    // 50 minutes of steady traffic: 1% errors, latency around 400 ms.
    const rng = createRng(3);
    for (let minute = 0; minute < 50; minute++) {
      for (let i = 0; i < 30; i++) {
        now.t = minute * 60_000 + i * 1_000;
        for (const modelId of ['m-a', 'm-b']) {
          analyzer.record(
            sample({
              armId: modelId.slice(2),
              modelId,
              latencyMs: 350 + 100 * rng(),
              ttftMs: 50 + 20 * rng(),
              error: (minute * 30 + i) % 100 === 0,
            }),
          );
        }
      }
    }
  }

  const healthyView: BanditView = {
    arms: [
      armView({ armId: 'a', pulls: 1_500, posteriorMean: 0.61, probabilityBest: 0.55 }),
      armView({ armId: 'b', pulls: 1_500, posteriorMean: 0.6, probabilityBest: 0.45 }),
    ],
  };

  it('stay silent on healthy data', () => {
    const now = { t: 0 };
    const analyzer = createPerformanceAnalyzer({ now: () => now.t });
    healthyTraffic(now, analyzer);
    now.t = 52 * 60_000;
    for (let i = 0; i < 40; i++) analyzer.record(sample({ armId: 'a', modelId: 'm-a', latencyMs: 420, ttftMs: 60 }));
    expect(analyzer.snapshot(healthyView).recommendations).toEqual([]);
  });

  it('flag an arm that is almost never best after many pulls', () => {
    const analyzer = createPerformanceAnalyzer({ now: () => 0 });
    const view: BanditView = {
      arms: [
        armView({ armId: 'good', pulls: 900, posteriorMean: 0.8, probabilityBest: 0.998 }),
        armView({ armId: 'bad', pulls: 400, posteriorMean: 0.4, upper95: 0.45, probabilityBest: 0.002 }),
        // Just as hopeless, but with too few pulls to judge.
        armView({ armId: 'new', pulls: 20, posteriorMean: 0.3, probabilityBest: 0 }),
      ],
    };
    const [recommendation, ...others] = analyzer.snapshot(view).recommendations;
    expect(others).toEqual([]);
    expect(recommendation).toMatchObject({
      kind: 'DISABLE_ARM',
      subject: 'bad',
      context: '*',
      figures: { pulls: 400, probabilityBest: 0.002, posteriorMean: 0.4, bestPosteriorMean: 0.8 },
    });
    expect(recommendation!.figures.regret).toBeCloseTo(400 * 0.4, 9);
    expect(recommendation!.message).toContain('bad');
  });

  it('flag a model whose error rate or latency degraded in the last minute', () => {
    const now = { t: 0 };
    const analyzer = createPerformanceAnalyzer({ now: () => now.t });
    healthyTraffic(now, analyzer);
    now.t = 52 * 60_000;
    for (let i = 0; i < 40; i++) {
      // m-a: a quarter of the requests fail. m-b: three times slower.
      analyzer.record(sample({ armId: 'a', modelId: 'm-a', latencyMs: 400, ttftMs: 60, error: i % 4 === 0 }));
      analyzer.record(sample({ armId: 'b', modelId: 'm-b', latencyMs: 1_200, ttftMs: 60 }));
    }
    const recommendations = analyzer.snapshot(healthyView).recommendations;
    expect(recommendations.map((r) => [r.kind, r.subject])).toEqual([
      ['MODEL_DEGRADED', 'm-a'],
      ['MODEL_DEGRADED', 'm-b'],
    ]);
    const [errors, slow] = recommendations;
    expect(errors!.figures.recentErrorRate).toBeCloseTo(0.25, 12);
    expect(errors!.figures.baselineErrorRate).toBeLessThan(0.02);
    expect(errors!.figures.recentRequests).toBe(40);
    // The baseline is the last hour without the last minute: the 1_500 healthy requests.
    expect(errors!.figures.baselineRequests).toBe(1_500);
    expect(errors!.figures).not.toHaveProperty('latencyRatio');
    expect(slow!.figures.latencyRatio).toBeGreaterThan(2.5);
    expect(slow!.figures.recentLatencyP95Ms).toBeGreaterThanOrEqual(1_200 * 0.99);
    expect(slow!.figures).not.toHaveProperty('recentErrorRate');
    expect(slow!.message).toContain('latency');
  });

  it("count refusals apart from errors: one caller's invalid requests raise no model's error rate", () => {
    const now = { t: 0 };
    const analyzer = createPerformanceAnalyzer({ now: () => now.t });
    healthyTraffic(now, analyzer);
    now.t = 52 * 60_000;
    for (let i = 0; i < 40; i++) {
      // m-a: a quarter of the requests refused (a provider's 400 for an over-long prompt, say).
      analyzer.record(sample({ armId: 'a', modelId: 'm-a', latencyMs: 400, ttftMs: 60, error: i % 4 === 0, refused: i % 4 === 0 }));
    }
    const snapshot = analyzer.snapshot(healthyView);
    expect(snapshot.recommendations).toEqual([]);
    const minute = snapshot.models.find((m) => m.modelId === 'm-a')!.windows.lastMinute;
    expect(minute).toMatchObject({ requests: 40, errors: 0, refused: 10, errorRate: 0 });
    // Neither a success: no latency sample.
    expect(minute.latencyMs!.count).toBe(30);

    // A genuine failure among them: the rate is over the requests the model answered or failed.
    analyzer.record(sample({ armId: 'a', modelId: 'm-a', error: true }));
    expect(analyzer.snapshot(healthyView).models.find((m) => m.modelId === 'm-a')!.windows.lastMinute).toMatchObject({
      requests: 41,
      errors: 1,
      refused: 10,
      errorRate: 1 / 31,
    });
  });

  it('flag a context where a cheaper arm is as good as the best', () => {
    const analyzer = createPerformanceAnalyzer({ now: () => 0 });
    const costs = { premium: 0.01, budget: 0.002, cheapest: 0.001 };
    for (const [armId, costUsd] of Object.entries(costs)) {
      for (let i = 0; i < 10; i++) analyzer.record(sample({ armId, modelId: `m-${armId}`, context: 'code', costUsd }));
      analyzer.record(sample({ armId, modelId: `m-${armId}`, context: 'chat', costUsd }));
    }
    const view: BanditView = {
      arms: [
        armView({ armId: 'premium', context: 'code', pulls: 800, posteriorMean: 0.8, probabilityBest: 0.6 }),
        armView({ armId: 'budget', context: 'code', pulls: 700, posteriorMean: 0.79, probabilityBest: 0.4 }),
        armView({ armId: 'cheapest', context: 'code', pulls: 600, posteriorMean: 0.7, probabilityBest: 0.02 }),
        // In chat the cheap arm is clearly worse, so nothing is recommended there.
        armView({ armId: 'premium', context: 'chat', pulls: 800, posteriorMean: 0.8, probabilityBest: 0.9 }),
        armView({ armId: 'budget', context: 'chat', pulls: 700, posteriorMean: 0.7, probabilityBest: 0.1 }),
      ],
    };
    const recommendations = analyzer.snapshot(view).recommendations;
    expect(recommendations).toHaveLength(1);
    expect(recommendations[0]).toMatchObject({
      kind: 'CHEAPER_ARM_AS_GOOD',
      subject: 'budget',
      context: 'code',
      figures: { pulls: 700, bestPulls: 800, posteriorMean: 0.79, bestPosteriorMean: 0.8 },
    });
    expect(recommendations[0]!.figures.costRatio).toBeCloseTo(0.2, 9);
    expect(recommendations[0]!.figures.rewardGap).toBeCloseTo(0.01, 9);
  });
});
