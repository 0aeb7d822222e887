import { configSchemas, type AnalyzerConfig } from '../config/schema.js';
import { GLOBAL_VIEW_CONTEXT, estimateRegret, type BanditArmView, type BanditView } from './bandit-view.js';
import type { MetricsRegistry } from './prometheus.js';
import {
  cheaperArmRecommendations,
  disableArmRecommendations,
  modelDegradedRecommendation,
  type DegradationFigures,
  type Recommendation,
} from './recommendations.js';
import {
  createHistogramFactory,
  createWindowSeries,
  subtractTotals,
  type MeasuredSample,
  type WindowName,
  type WindowSeries,
  type WindowView,
} from './rolling-window.js';
import { withFields } from '../with-fields.js';

/**
 * The performance analyzer: rolling per-arm, per-model and per-context figures over the last
 * minute, the last hour and since start, joined with the bandit's posterior figures, plus
 * recommendations. See docs/streaming-and-analyzer.md, "Performance analyzer".
 */

export interface RequestSample extends Omit<MeasuredSample, 'shadow'> {
  readonly armId: string;
  readonly modelId: string;
  readonly context: string;
  readonly shadow?: boolean;
}

export interface Percentiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** Samples behind the percentiles. */
  readonly count: number;
}

export interface WindowFigures {
  readonly requests: number;
  /** Failed requests, the refused ones apart. */
  readonly errors: number;
  /**
   * Failed requests that say nothing about the model: refused here (circuit open, instance full)
   * or by the provider as invalid (one caller's bad requests must not look like a failing model).
   */
  readonly refused: number;
  /** errors / (requests - refused); 0 without such requests. */
  readonly errorRate: number;
  readonly cachedRequests: number;
  readonly shadowRequests: number;
  /** Over successful, uncached requests; null without any. */
  readonly latencyMs: Percentiles | null;
  readonly ttftMs: Percentiles | null;
  /** Completion tokens / generation time (latency minus time to first token), pooled; null without any. */
  readonly tokensPerSecond: number | null;
  readonly spendUsd: number;
  readonly meanReward: number | null;
  readonly rewards: number;
}

export interface WindowedFigures {
  readonly lastMinute: WindowFigures;
  readonly lastHour: WindowFigures;
  readonly sinceStart: WindowFigures;
}

export interface BanditFigures {
  readonly pulls: number;
  readonly posteriorMean: number;
  readonly lower95: number;
  readonly upper95: number;
  readonly probabilityBest: number;
  /** This arm's share of the posterior pseudo-regret (see estimateRegret). */
  readonly regret: number;
}

export interface ArmReport {
  readonly armId: string;
  readonly modelId: string;
  readonly windows: WindowedFigures;
  /** From the global ('*') entry of the bandit view; null when the view does not list the arm. */
  readonly bandit: BanditFigures | null;
}

export interface ModelReport {
  readonly modelId: string;
  readonly armIds: readonly string[];
  readonly windows: WindowedFigures;
}

export interface ContextReport {
  readonly context: string;
  readonly windows: WindowedFigures;
  /** Arm with the highest posterior mean in this context; null without bandit figures. */
  readonly bestArmId: string | null;
  readonly regret: number;
  readonly arms: readonly ArmReport[];
}

export interface AnalyzerSnapshot {
  /** Clock time of the snapshot and of the analyzer's start (the injected clock's ms). */
  readonly generatedAt: number;
  readonly startedAt: number;
  readonly arms: readonly ArmReport[];
  readonly models: readonly ModelReport[];
  readonly contexts: readonly ContextReport[];
  /** Total posterior pseudo-regret (summed over the specific contexts when there are any). */
  readonly regret: number;
  readonly recommendations: readonly Recommendation[];
}

export interface PerformanceAnalyzer {
  record(sample: RequestSample): void;
  recordReward(armId: string, context: string, reward: number): void;
  snapshot(bandit: BanditView): AnalyzerSnapshot;
}

export interface PerformanceAnalyzerDeps {
  /** Clock in ms; defaults to Date.now. */
  readonly now?: () => number;
  readonly config?: AnalyzerConfig;
  /** When given, every recorded sample and reward is also counted in these Prometheus metrics. */
  readonly metrics?: MetricsRegistry;
}

/** Samples of contexts beyond config.maxContexts are counted under this one. */
export const OTHER_CONTEXT = '(other)';

type Series = WindowSeries;

export function createPerformanceAnalyzer(deps: PerformanceAnalyzerDeps = {}): PerformanceAnalyzer {
  const now = deps.now ?? Date.now;
  const config = deps.config ?? configSchemas().analyzerSchema.parse({});
  const histograms = createHistogramFactory(config.histogram);
  const startedAt = now();

  const arms = new Map<string, Series>();
  const models = new Map<string, Series>();
  const contexts = new Map<string, Series>();
  /** Keyed by context, then arm. */
  const armsInContext = new Map<string, Map<string, Series>>();
  const modelOfArm = new Map<string, string>();

  const seriesIn = <K>(map: Map<K, Series>, key: K): Series => {
    let series = map.get(key);
    if (!series) {
      series = createWindowSeries(histograms, config);
      map.set(key, series);
    }
    return series;
  };

  const armInContext = (armId: string, context: string): Series => {
    let byArm = armsInContext.get(context);
    if (!byArm) {
      byArm = new Map();
      armsInContext.set(context, byArm);
    }
    return seriesIn(byArm, armId);
  };

  /** Caps label cardinality: contexts come from request tags, which clients choose freely. */
  const contextLabel = (context: string): string => {
    if (contexts.has(context) || contexts.size < config.maxContexts) return context;
    return OTHER_CONTEXT;
  };

  const figures = (view: WindowView): WindowFigures => {
    const { totals } = view;
    const percentiles = (histogram: WindowView['latency']): Percentiles | null =>
      histogram && histogram.totalCount > 0
        ? {
            p50: histograms.percentileMs(histogram, 50),
            p95: histograms.percentileMs(histogram, 95),
            p99: histograms.percentileMs(histogram, 99),
            count: histogram.totalCount,
          }
        : null;
    const judged = totals.requests - totals.refused;
    return {
      requests: totals.requests,
      errors: totals.errors,
      refused: totals.refused,
      errorRate: judged > 0 ? totals.errors / judged : 0,
      cachedRequests: totals.cached,
      shadowRequests: totals.shadow,
      latencyMs: percentiles(view.latency),
      ttftMs: percentiles(view.ttft),
      tokensPerSecond: totals.generationMs > 0 ? (totals.completionTokens * 1000) / totals.generationMs : null,
      spendUsd: totals.spendUsd,
      meanReward: totals.rewards > 0 ? totals.rewardSum / totals.rewards : null,
      rewards: totals.rewards,
    };
  };

  const windowed = (series: Series | undefined, at: number): WindowedFigures => {
    const empty = series ?? createWindowSeries(histograms, config);
    return {
      lastMinute: figures(empty.view('lastMinute', at)),
      lastHour: figures(empty.view('lastHour', at)),
      sinceStart: figures(empty.view('sinceStart', at)),
    };
  };

  const degradation = (view: WindowView): DegradationFigures => {
    const p95 = (histogram: WindowView['latency']) =>
      histogram && histogram.totalCount > 0 ? histograms.percentileMs(histogram, 95) : null;
    return {
      // Refusals are neither errors nor successes of the model: its error rate is over the rest.
      requests: view.totals.requests - view.totals.refused,
      errors: view.totals.errors,
      latencyCount: view.latency?.totalCount ?? 0,
      latencyP95Ms: p95(view.latency),
      ttftCount: view.ttft?.totalCount ?? 0,
      ttftP95Ms: p95(view.ttft),
    };
  };

  /** The last minute against the longer window with the last minute taken out. */
  const degradedModels = (at: number): Recommendation[] => {
    const found: Recommendation[] = [];
    for (const [modelId, series] of models) {
      const recent = series.view('lastMinute', at);
      const baselineOf = (window: WindowName): WindowView => {
        const longer = series.view(window, at);
        return {
          totals: subtractTotals(longer.totals, recent.totals),
          latency: histograms.difference(longer.latency, recent.latency),
          ttft: histograms.difference(longer.ttft, recent.ttft),
        };
      };
      let baselineWindow: 'lastHour' | 'sinceStart' = 'lastHour';
      let baseline = baselineOf('lastHour');
      if (baseline.totals.requests < config.recommendations.minRequests) {
        baselineWindow = 'sinceStart';
        baseline = baselineOf('sinceStart');
      }
      const recommendation = modelDegradedRecommendation(
        { modelId, recent: degradation(recent), baseline: degradation(baseline), baselineWindow },
        config.recommendations,
      );
      if (baseline.latency) histograms.release(baseline.latency);
      if (baseline.ttft) histograms.release(baseline.ttft);
      if (recommendation) found.push(recommendation);
    }
    return found;
  };

  const banditFigures = (arm: BanditArmView | undefined, regret: number): BanditFigures | null =>
    arm
      ? {
          pulls: arm.pulls,
          posteriorMean: arm.posteriorMean,
          lower95: arm.lower95,
          upper95: arm.upper95,
          probabilityBest: arm.probabilityBest,
          regret,
        }
      : null;

  return {
    record(sample) {
      const context = contextLabel(sample.context);
      const shadow = sample.shadow ?? false;
      modelOfArm.set(sample.armId, sample.modelId);
      const at = now();
      // A RequestSample is a MeasuredSample but for `shadow`, which is optional here.
      const measured: MeasuredSample = sample.shadow === shadow ? (sample as MeasuredSample) : withFields(sample, { shadow });
      seriesIn(arms, sample.armId).record(at, measured);
      seriesIn(models, sample.modelId).record(at, measured);
      seriesIn(contexts, context).record(at, measured);
      armInContext(sample.armId, context).record(at, measured);
      deps.metrics?.observe({ ...sample, context });
    },

    recordReward(armId, context, reward) {
      if (!Number.isFinite(reward)) throw new RangeError(`reward must be finite, got ${reward}`);
      const label = contextLabel(context);
      const modelId = modelOfArm.get(armId);
      const at = now();
      const targets = [seriesIn(arms, armId), seriesIn(contexts, label), armInContext(armId, label)];
      if (modelId !== undefined) targets.push(seriesIn(models, modelId));
      for (const series of targets) series.recordReward(at, reward);
      deps.metrics?.observeReward(armId, modelId ?? '', label, reward);
    },

    snapshot(bandit) {
      const at = now();
      for (const arm of bandit.arms) if (!modelOfArm.has(arm.armId)) modelOfArm.set(arm.armId, arm.modelId);
      const regret = estimateRegret(bandit);
      const viewOf = new Map(bandit.arms.map((a) => [`${a.context}\u0000${a.armId}`, a]));

      const armIds = new Set([...arms.keys(), ...bandit.arms.map((a) => a.armId)]);
      const armReports = [...armIds].sort().map(
        (armId): ArmReport => ({
          armId,
          modelId: modelOfArm.get(armId) ?? '',
          windows: windowed(arms.get(armId), at),
          bandit: banditFigures(viewOf.get(`${GLOBAL_VIEW_CONTEXT}\u0000${armId}`), regret.byArm.get(armId) ?? 0),
        }),
      );

      const armsOfModel = new Map<string, string[]>();
      for (const [armId, modelId] of modelOfArm) armsOfModel.set(modelId, [...(armsOfModel.get(modelId) ?? []), armId]);
      const modelIds = new Set([...models.keys(), ...armsOfModel.keys()]);
      const modelReports = [...modelIds].sort().map(
        (modelId): ModelReport => ({
          modelId,
          armIds: (armsOfModel.get(modelId) ?? []).sort(),
          windows: windowed(models.get(modelId), at),
        }),
      );

      const contextNames = new Set([
        ...contexts.keys(),
        ...bandit.arms.map((a) => a.context).filter((c) => c !== GLOBAL_VIEW_CONTEXT),
      ]);
      const contextReports = [...contextNames].sort().map((context): ContextReport => {
        const contextRegret = regret.byContext.get(context);
        const inContext = new Set([
          ...(armsInContext.get(context)?.keys() ?? []),
          ...bandit.arms.filter((a) => a.context === context).map((a) => a.armId),
        ]);
        return {
          context,
          windows: windowed(contexts.get(context), at),
          bestArmId: contextRegret?.bestArmId ?? null,
          regret: contextRegret?.total ?? 0,
          arms: [...inContext].sort().map(
            (armId): ArmReport => ({
              armId,
              modelId: modelOfArm.get(armId) ?? '',
              windows: windowed(armsInContext.get(context)?.get(armId), at),
              bandit: banditFigures(viewOf.get(`${context}\u0000${armId}`), contextRegret?.byArm.get(armId) ?? 0),
            }),
          ),
        };
      });

      const costPerRequestUsd = (armId: string, context: string): number | null => {
        const series = context === GLOBAL_VIEW_CONTEXT ? arms.get(armId) : armsInContext.get(context)?.get(armId);
        const totals = series?.view('sinceStart', at).totals;
        if (!totals) return null;
        const paid = totals.requests - totals.cached - totals.refused;
        return paid > 0 ? totals.spendUsd / paid : null;
      };

      return {
        generatedAt: at,
        startedAt,
        arms: armReports,
        models: modelReports,
        contexts: contextReports,
        regret: regret.total,
        recommendations: [
          ...disableArmRecommendations(bandit, regret.byContext, config.recommendations),
          ...degradedModels(at),
          ...cheaperArmRecommendations(bandit, costPerRequestUsd, config.recommendations),
        ],
      };
    },
  };
}
