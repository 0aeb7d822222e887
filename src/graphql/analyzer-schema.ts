import type {
  AnalyzerSnapshot,
  ArmReport,
  BanditFigures,
  ContextReport,
  ModelReport,
  Percentiles,
  WindowedFigures,
  WindowFigures,
} from '../analyzer/performance-analyzer.js';
import type { Recommendation } from '../analyzer/recommendations.js';
import { builder } from './builder.js';
import { roundEstimate, roundMs, roundShare, roundShareOrNull, roundTenthOrNull, roundUsd } from './display-rounding.js';
import { userError } from './errors.js';

/** Shortest interval of the metrics subscription: a snapshot estimates every arm's probability of being best. */
export const MIN_METRICS_INTERVAL_MS = 250;
export const MAX_METRICS_INTERVAL_MS = 3_600_000;

const PercentilesRef = builder.objectRef<Percentiles>('Percentiles').implement({
  description: 'Nearest-rank percentiles from an HDR histogram (within its configured relative precision).',
  fields: (t) => ({
    p50: t.float({ resolve: (p) => roundMs(p.p50) }),
    p95: t.float({ resolve: (p) => roundMs(p.p95) }),
    p99: t.float({ resolve: (p) => roundMs(p.p99) }),
    count: t.exposeInt('count', { description: 'Samples behind the percentiles.' }),
  }),
});

const WindowFiguresRef = builder.objectRef<WindowFigures>('WindowFigures').implement({
  fields: (t) => ({
    requests: t.exposeInt('requests', { description: 'All samples: primary, cache hits and shadow calls.' }),
    errors: t.exposeInt('errors', { description: 'Failed requests, the refused ones apart.' }),
    refused: t.exposeInt('refused', {
      description:
        'Failed requests that say nothing about the model: refused by this instance (circuit open, instance full) or by the provider as invalid (HTTP 400, 413, 422).',
    }),
    errorRate: t.float({ description: 'errors / (requests - refused); 0 without such requests.', resolve: (w) => roundShare(w.errorRate) }),
    cachedRequests: t.exposeInt('cachedRequests'),
    shadowRequests: t.exposeInt('shadowRequests'),
    latencyMs: t.field({
      type: PercentilesRef,
      nullable: true,
      description: 'Over successful, uncached requests; null without any.',
      resolve: (w) => w.latencyMs,
    }),
    ttftMs: t.field({ type: PercentilesRef, nullable: true, resolve: (w) => w.ttftMs }),
    tokensPerSecond: t.float({ nullable: true, resolve: (w) => roundTenthOrNull(w.tokensPerSecond) }),
    spendUsd: t.float({ resolve: (w) => roundUsd(w.spendUsd) }),
    meanReward: t.float({ nullable: true, resolve: (w) => roundShareOrNull(w.meanReward) }),
    rewards: t.exposeInt('rewards'),
  }),
});

const WindowsRef = builder.objectRef<WindowedFigures>('AnalyzerWindows').implement({
  fields: (t) => ({
    lastMinute: t.field({ type: WindowFiguresRef, resolve: (w) => w.lastMinute }),
    lastHour: t.field({ type: WindowFiguresRef, resolve: (w) => w.lastHour }),
    sinceStart: t.field({ type: WindowFiguresRef, resolve: (w) => w.sinceStart }),
  }),
});

const BanditFiguresRef = builder.objectRef<BanditFigures>('BanditFigures').implement({
  fields: (t) => ({
    pulls: t.exposeInt('pulls'),
    posteriorMean: t.float({ resolve: (b) => roundShare(b.posteriorMean) }),
    lower95: t.float({ resolve: (b) => roundShare(b.lower95) }),
    upper95: t.float({ resolve: (b) => roundShare(b.upper95) }),
    probabilityBest: t.float({ resolve: (b) => roundEstimate(b.probabilityBest) }),
    regret: t.float({ description: 'Posterior pseudo-regret of this arm\'s pulls.', resolve: (b) => roundShare(b.regret) }),
  }),
});

const ArmReportRef = builder.objectRef<ArmReport>('ArmReport').implement({
  fields: (t) => ({
    arm: t.exposeID('armId'),
    model: t.exposeID('modelId'),
    windows: t.field({ type: WindowsRef, resolve: (a) => a.windows }),
    bandit: t.field({ type: BanditFiguresRef, nullable: true, resolve: (a) => a.bandit }),
  }),
});

const ModelReportRef = builder.objectRef<ModelReport>('ModelReport').implement({
  fields: (t) => ({
    model: t.exposeID('modelId'),
    arms: t.exposeIDList('armIds'),
    windows: t.field({ type: WindowsRef, resolve: (m) => m.windows }),
  }),
});

const ContextReportRef = builder.objectRef<ContextReport>('ContextReport').implement({
  fields: (t) => ({
    context: t.exposeString('context'),
    windows: t.field({ type: WindowsRef, resolve: (c) => c.windows }),
    bestArm: t.exposeID('bestArmId', { nullable: true }),
    regret: t.float({ resolve: (c) => roundShare(c.regret) }),
    arms: t.field({ type: [ArmReportRef], resolve: (c) => c.arms }),
  }),
});

const RecommendationKind = builder.enumType('RecommendationKind', {
  values: {
    DISABLE_ARM: { description: 'An arm almost never best after many pulls.' },
    MODEL_DEGRADED: { description: "A model's error rate or latency in the last minute is worse than its baseline." },
    CHEAPER_ARM_AS_GOOD: { description: 'A cheaper arm whose reward is as good as the best arm\'s in a context.' },
  } as const,
});

const FigureRef = builder.objectRef<{ name: string; value: number }>('Figure').implement({
  fields: (t) => ({ name: t.exposeString('name'), value: t.exposeFloat('value') }),
});

const RecommendationRef = builder.objectRef<Recommendation>('Recommendation').implement({
  fields: (t) => ({
    kind: t.field({ type: RecommendationKind, resolve: (r) => r.kind }),
    subject: t.exposeString('subject', { description: 'The arm or model it is about.' }),
    context: t.exposeString('context'),
    message: t.exposeString('message'),
    figures: t.field({
      type: [FigureRef],
      description: 'The figures behind the judgement.',
      resolve: (r) => Object.entries(r.figures).map(([name, value]) => ({ name, value })),
    }),
  }),
});

export const AnalyzerRef = builder.objectRef<AnalyzerSnapshot>('Analyzer').implement({
  description: 'Performance figures per arm, model and context over rolling windows, with recommendations.',
  fields: (t) => ({
    generatedAt: t.string({ resolve: (s) => new Date(s.generatedAt).toISOString() }),
    startedAt: t.string({ resolve: (s) => new Date(s.startedAt).toISOString() }),
    arms: t.field({ type: [ArmReportRef], resolve: (s) => s.arms }),
    models: t.field({ type: [ModelReportRef], resolve: (s) => s.models }),
    contexts: t.field({ type: [ContextReportRef], resolve: (s) => s.contexts }),
    regret: t.float({ description: 'Total posterior pseudo-regret.', resolve: (s) => roundShare(s.regret) }),
    recommendations: t.field({ type: [RecommendationRef], resolve: (s) => s.recommendations }),
  }),
});

builder.queryFields((t) => ({
  analyzer: t.field({
    type: AnalyzerRef,
    description: 'A performance snapshot, at most analyzer.sharedViewMs old: computed once for every caller in that time.',
    resolve: (_root, _args, { services }) => services.analyzerSnapshot(),
  }),
}));

builder.subscriptionFields((t) => ({
  metrics: t.field({
    type: AnalyzerRef,
    description: `A fresh performance snapshot at once and then every intervalMs (${MIN_METRICS_INTERVAL_MS} to ${MAX_METRICS_INTERVAL_MS}).`,
    args: { intervalMs: t.arg.int({ required: true, defaultValue: 1_000 }) },
    subscribe: (_root, { intervalMs }, { services }) => {
      if (!(intervalMs >= MIN_METRICS_INTERVAL_MS && intervalMs <= MAX_METRICS_INTERVAL_MS)) {
        throw userError(
          'INTERVAL_OUT_OF_RANGE',
          `intervalMs must be between ${MIN_METRICS_INTERVAL_MS} and ${MAX_METRICS_INTERVAL_MS}`,
        );
      }
      return services.metricsFeed.every(intervalMs);
    },
    resolve: (snapshot) => snapshot,
  }),
}));
