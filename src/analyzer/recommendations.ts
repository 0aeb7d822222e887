import type { AnalyzerConfig } from '../config/schema.js';
import { groupByContext, type BanditView, type ContextRegret } from './bandit-view.js';

export type RecommendationKind = 'DISABLE_ARM' | 'MODEL_DEGRADED' | 'CHEAPER_ARM_AS_GOOD';

export interface Recommendation {
  readonly kind: RecommendationKind;
  /** The arm (DISABLE_ARM, CHEAPER_ARM_AS_GOOD) or model (MODEL_DEGRADED) it is about. */
  readonly subject: string;
  /** Context it applies in; '*' for all contexts. */
  readonly context: string;
  readonly message: string;
  /** The figures behind it, so a reader can check the judgement. */
  readonly figures: Record<string, number>;
}

type Thresholds = AnalyzerConfig['recommendations'];

/** An arm the posterior has all but ruled out, after enough pulls that the verdict is not noise. */
export function disableArmRecommendations(
  view: BanditView,
  regret: ReadonlyMap<string, ContextRegret>,
  thresholds: Thresholds,
): Recommendation[] {
  const found: Recommendation[] = [];
  for (const [context, arms] of groupByContext(view)) {
    if (arms.length < 2) continue;
    const contextRegret = regret.get(context);
    for (const arm of arms) {
      if (arm.pulls < thresholds.minPulls || arm.probabilityBest >= thresholds.disableBelowProbabilityBest) continue;
      const where = context === '*' ? 'overall' : `in context "${context}"`;
      found.push({
        kind: 'DISABLE_ARM',
        subject: arm.armId,
        context,
        message:
          `Arm "${arm.armId}" is best ${where} with probability ${arm.probabilityBest.toFixed(4)} after ` +
          `${arm.pulls} pulls; disabling it (${where}) would stop spending traffic on it.`,
        figures: {
          pulls: arm.pulls,
          probabilityBest: arm.probabilityBest,
          posteriorMean: arm.posteriorMean,
          upper95: arm.upper95,
          bestPosteriorMean: contextRegret?.bestPosteriorMean ?? arm.posteriorMean,
          regret: contextRegret?.byArm.get(arm.armId) ?? 0,
        },
      });
    }
  }
  return found;
}

export interface DegradationInput {
  readonly modelId: string;
  readonly recent: DegradationFigures;
  readonly baseline: DegradationFigures;
  /** Which window the baseline is (the last hour or everything since start, minus the last minute). */
  readonly baselineWindow: 'lastHour' | 'sinceStart';
}

export interface DegradationFigures {
  readonly requests: number;
  readonly errors: number;
  readonly latencyCount: number;
  readonly latencyP95Ms: number | null;
  readonly ttftCount: number;
  readonly ttftP95Ms: number | null;
}

/** One-sided z-score that guards the error-rate check against small-sample noise. */
const ERROR_RATE_MIN_Z = 3;

/**
 * A model whose last minute is worse than its baseline: an error rate higher by at least
 * `errorRateIncrease` (and by at least ERROR_RATE_MIN_Z standard errors of the baseline rate,
 * smoothed as (errors + 1) / (requests + 2) so a spotless baseline is not infinitely sure), or a
 * p95 latency or time to first token at least `latencyFactor` times the baseline's.
 */
export function modelDegradedRecommendation(input: DegradationInput, thresholds: Thresholds): Recommendation | null {
  const { recent, baseline } = input;
  if (recent.requests < thresholds.minRequests || baseline.requests < thresholds.minRequests) return null;
  const reasons: string[] = [];
  const figures: Record<string, number> = { recentRequests: recent.requests, baselineRequests: baseline.requests };

  const recentRate = recent.errors / recent.requests;
  const baselineRate = baseline.errors / baseline.requests;
  const smoothed = (baseline.errors + 1) / (baseline.requests + 2);
  const z = (recentRate - smoothed) / Math.sqrt((smoothed * (1 - smoothed)) / recent.requests);
  if (recentRate - baselineRate >= thresholds.errorRateIncrease && z >= ERROR_RATE_MIN_Z) {
    reasons.push(`error rate ${(recentRate * 100).toFixed(1)}% vs ${(baselineRate * 100).toFixed(1)}%`);
    Object.assign(figures, { recentErrorRate: recentRate, baselineErrorRate: baselineRate, errorRateZ: z });
  }

  const slower = (
    label: string,
    key: 'latency' | 'ttft',
    counts: readonly [number, number],
    recentMs: number | null,
    baselineMs: number | null,
  ): void => {
    if (recentMs === null || baselineMs === null || baselineMs <= 0) return;
    if (counts[0] < thresholds.minRequests || counts[1] < thresholds.minRequests) return;
    const ratio = recentMs / baselineMs;
    if (ratio < thresholds.latencyFactor) return;
    reasons.push(`p95 ${label} ${recentMs.toFixed(0)} ms vs ${baselineMs.toFixed(0)} ms`);
    const name = key === 'latency' ? 'Latency' : 'Ttft';
    figures[`recent${name}P95Ms`] = recentMs;
    figures[`baseline${name}P95Ms`] = baselineMs;
    figures[`${key}Ratio`] = ratio;
  };
  slower('latency', 'latency', [recent.latencyCount, baseline.latencyCount], recent.latencyP95Ms, baseline.latencyP95Ms);
  slower('time to first token', 'ttft', [recent.ttftCount, baseline.ttftCount], recent.ttftP95Ms, baseline.ttftP95Ms);

  if (reasons.length === 0) return null;
  const against = input.baselineWindow === 'lastHour' ? 'the rest of the last hour' : 'its record since start';
  return {
    kind: 'MODEL_DEGRADED',
    subject: input.modelId,
    context: '*',
    message: `Model "${input.modelId}" degraded in the last minute against ${against}: ${reasons.join('; ')}.`,
    figures,
  };
}

/**
 * In each context, the cheapest arm whose posterior mean reward is within `rewardMargin` of the
 * best arm's while costing at most `maxCostRatio` of it per request. Both arms need minPulls.
 */
export function cheaperArmRecommendations(
  view: BanditView,
  costPerRequestUsd: (armId: string, context: string) => number | null,
  thresholds: Thresholds,
): Recommendation[] {
  const found: Recommendation[] = [];
  for (const [context, arms] of groupByContext(view)) {
    const judged = arms.filter((a) => a.pulls >= thresholds.minPulls);
    if (judged.length < 2) continue;
    const best = judged.reduce((a, b) => (b.posteriorMean > a.posteriorMean ? b : a));
    const bestCost = costPerRequestUsd(best.armId, context);
    if (bestCost === null || bestCost <= 0) continue;
    let cheapest: { arm: (typeof judged)[number]; cost: number } | null = null;
    for (const arm of judged) {
      if (arm === best || best.posteriorMean - arm.posteriorMean > thresholds.rewardMargin) continue;
      const cost = costPerRequestUsd(arm.armId, context);
      if (cost === null || cost > thresholds.maxCostRatio * bestCost) continue;
      if (!cheapest || cost < cheapest.cost) cheapest = { arm, cost };
    }
    if (!cheapest) continue;
    const { arm, cost } = cheapest;
    const where = context === '*' ? 'overall' : `in context "${context}"`;
    found.push({
      kind: 'CHEAPER_ARM_AS_GOOD',
      subject: arm.armId,
      context,
      message:
        `Arm "${arm.armId}" is as good as the best arm "${best.armId}" ${where} (mean reward ` +
        `${arm.posteriorMean.toFixed(3)} vs ${best.posteriorMean.toFixed(3)}) at ` +
        `${((cost / bestCost) * 100).toFixed(0)}% of its cost per request.`,
      figures: {
        posteriorMean: arm.posteriorMean,
        bestPosteriorMean: best.posteriorMean,
        rewardGap: best.posteriorMean - arm.posteriorMean,
        costPerRequestUsd: cost,
        bestCostPerRequestUsd: bestCost,
        costRatio: cost / bestCost,
        pulls: arm.pulls,
        bestPulls: best.pulls,
      },
    });
  }
  return found;
}
