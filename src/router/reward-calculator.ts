import type { RewardConfig } from '../config/schema.js';
import type { OperationalObservation, OperationalReference } from './bandit.js';
import { objectivePenalty } from './objectives.js';

/**
 * What the router optimises, and how measurements become evidence for the bandit.
 *
 * The router maximises, per context, the expected utility of an arm:
 *
 *   utility = quality - cost * (expected cost / reference cost) - latency * (expected latency / reference latency)
 *
 * Quality is learnt from feedback (a Beta posterior, sampled by Thompson sampling); cost and
 * latency are measured on every completed call, so the policy uses their decayed means. With the
 * reference cost unset it is the highest mean cost per call among the arms: `cost` = 0.1 then
 * reads "paying for the most expensive arm on every request is worth 0.1 of quality", whatever
 * the currency scale of a deployment. With `costReferenceUsd` set, one unit of quality is worth
 * costReferenceUsd / cost dollars.
 *
 * Keeping quality and cost apart (rather than blending both into one Beta, weighted) keeps the
 * trade-off independent of how many requests get feedback: most never do.
 */

export interface RouteMetrics {
  readonly latencyMs: number;
  readonly ttftMs: number | null;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly costUsd: number;
  readonly error: boolean;
  readonly cached: boolean;
}

export interface WeightedReward {
  readonly reward: number;
  readonly weight: number;
}

export interface RewardCalculator {
  /**
   * Quality evidence known at completion: an error is a certain failure (reward 0 at the quality
   * weight). Null otherwise: a successful call says nothing about quality until feedback, and a
   * cache hit says nothing about the model. Cost and latency go to the policy's operational means.
   */
  operational(metrics: RouteMetrics): WeightedReward | null;
  quality(score: number): WeightedReward;
  /** The request's overall quality reward: the parts averaged by weight. */
  combined(operational: WeightedReward | null, quality: WeightedReward | null): number | null;
  /**
   * Quality units given up for an arm's expected cost and latency, priced against the configured
   * references or, where unset, `observedReference` (the highest arm means).
   */
  penalty(expected: OperationalObservation, observedReference: OperationalReference): number;
  /** The same penalty with a request's own weights where it gives them (see objectives.ts). */
  penaltyFor(
    weights: { readonly costWeight?: number | undefined; readonly latencyWeight?: number | undefined },
    expected: OperationalObservation,
    observedReference: OperationalReference,
  ): number;
  /**
   * One request's reward in [0, 1], on the router's own scale: `quality - penalty(cost, latency)`,
   * clamped. Before feedback the quality is unknown and taken as 1, so the figure is the
   * operational part alone; an error scores 0.
   */
  requestReward(
    observed: OperationalObservation & { readonly error: boolean },
    quality: number | null,
    observedReference: OperationalObservation,
  ): number;
}

/**
 * Budget pacing (reward.budgetShare): the cost weight is multiplied by exp(E), E = the decayed sum
 * over calls of (call cost / (budget · dearest arm's mean cost) − 1) / PACE_CALLS, i.e. an integral
 * controller on overspending: every call above the budget raises the price a little, every call
 * below lowers it, until the router spends the budget (a proportional one settles above it by
 * however much the price must rise to hold the dearer arm back). E is computed from the global
 * statistics (calls and their cost, decayed like the rest), so replicas applying the same events
 * price alike. Bounded: the weight moves at most e^4 ≈ 55 times either way.
 */
const PACE_CALLS = 100;
const PACE_LIMIT = 4;

export function createRewardCalculator(config: RewardConfig): RewardCalculator {
  const relative = (value: number, reference: number) => (reference > 0 ? Math.max(0, value) / reference : 0);
  const priced = (costWeight: number, expected: OperationalObservation, observedReference: OperationalObservation) =>
    costWeight * relative(expected.costUsd, config.costReferenceUsd ?? observedReference.costUsd) +
    config.latency * relative(expected.latencyMs, config.latencyReferenceMs ?? observedReference.latencyMs);
  const budget = config.budgetShare;
  /** The configured cost weight, scaled up while the router spends above its budget and down while below. */
  const pacedCostWeight = (ref: OperationalReference): number => {
    if (budget === undefined || !(ref.costUsd > 0) || ref.spendUsd === undefined || ref.calls === undefined) return config.cost;
    const overspent = (ref.calls * (ref.spendUsd / (budget * ref.costUsd) - 1)) / PACE_CALLS;
    return config.cost * Math.exp(Math.max(-PACE_LIMIT, Math.min(PACE_LIMIT, overspent)));
  };
  const penalty = (expected: OperationalObservation, observedReference: OperationalReference) =>
    priced(pacedCostWeight(observedReference), expected, observedReference);

  return {
    operational(metrics) {
      if (metrics.cached || !metrics.error) return null;
      return { reward: 0, weight: config.quality };
    },
    quality(score) {
      if (!(score >= 0 && score <= 1)) throw new RangeError(`quality score must be in [0, 1], got ${score}`);
      return { reward: score, weight: config.quality };
    },
    combined(operational, quality) {
      const parts = [operational, quality].filter((p): p is WeightedReward => p !== null && p.weight > 0);
      const weight = parts.reduce((sum, p) => sum + p.weight, 0);
      if (weight === 0) return null;
      return parts.reduce((sum, p) => sum + p.reward * p.weight, 0) / weight;
    },
    penalty,
    penaltyFor: (weights, expected, observedReference) =>
      objectivePenalty(
        { cost: weights.costWeight ?? pacedCostWeight(observedReference), latency: weights.latencyWeight ?? config.latency },
        expected,
        {
          costUsd: config.costReferenceUsd ?? observedReference.costUsd,
          latencyMs: config.latencyReferenceMs ?? observedReference.latencyMs,
        },
      ),
    requestReward(observed, quality, observedReference) {
      if (observed.error) return 0;
      return Math.min(1, Math.max(0, (quality ?? 1) - priced(config.cost, observed, observedReference)));
    },
  };
}
