import { CodedError } from '../coded-error.js';
import type { ArmConfig } from '../config/schema.js';
import type { ChatMessage } from '../models/backend.js';
import { contextChain, GLOBAL_CONTEXT, parentContext, type BanditPolicy, type Posterior } from './bandit.js';
import { summarizePosterior, type PosteriorSummary } from './beta-distribution.js';
import type { ContextClassifier } from './context-classifier.js';
import type { RewardCalculator, RouteMetrics, WeightedReward } from './reward-calculator.js';
import { createRoutingConfidence } from './routing-confidence.js';

/**
 * The adaptive router: picks an arm per request with the bandit policy, and turns what requests
 * measured and what users said into rewards. It knows nothing of transport or caching.
 */

export type RouterErrorCode = 'UNKNOWN_ARM' | 'ARM_DISABLED' | 'NO_ARM_AVAILABLE';

export class RouterError extends CodedError<RouterErrorCode> {
  override readonly name = 'RouterError';
}

export interface RouteRequest {
  readonly messages: readonly ChatMessage[];
  readonly tags?: readonly string[] | undefined;
  readonly pinnedArmId?: string | undefined;
}

export interface RouteDecision {
  readonly armId: string;
  readonly modelId: string;
  readonly context: string;
  /** Posterior probability that the chosen arm is the best one in this context. */
  readonly confidence: number;
  readonly pinned: boolean;
}

export interface ArmView {
  readonly id: string;
  readonly modelId: string;
  readonly enabled: boolean;
  readonly pulls: number;
  /** Weighted mean of the rewards received, null before any. */
  readonly rewardMean: number | null;
  readonly posterior: PosteriorSummary;
  readonly probabilityBest: number;
}

export interface AdaptiveRouter {
  readonly policyName: string;
  route(request: RouteRequest): RouteDecision;
  /**
   * The decision the router would report for serving `request` with `armId`, without pulling it
   * (cache hits): the request's context and the arm's probability of being best there.
   */
  describe(armId: string, request: RouteRequest): RouteDecision;
  /**
   * The arm to try after `failed` failed before its first token: the remaining available arm with
   * the highest posterior mean, or null when none is left.
   */
  failover(failed: RouteDecision, excluded: ReadonlySet<string>): RouteDecision | null;
  /** Counts a pull of the arm that was actually called. */
  recordAttempt(decision: RouteDecision): void;
  /** Applies the operational part of the reward; returns it (null when nothing is learned). */
  recordOutcome(decision: RouteDecision, metrics: RouteMetrics): WeightedReward | null;
  /**
   * Applies a quality score from feedback, replacing `previous` (an earlier score for the same
   * request) rather than adding to it.
   */
  applyFeedback(decision: RouteDecision, score: number, previous: number | null): WeightedReward;
  /**
   * A request's reward in [0, 1] on the scale the router maximises (see RewardCalculator):
   * operational only while `quality` is null, with the user's score once feedback came.
   */
  rewardOf(observed: { costUsd: number; latencyMs: number; error: boolean }, quality: number | null): number;
  /**
   * Every arm with its statistics in `context`; `draws` Monte Carlo draws estimate the probability
   * of being best (0 skips the estimate: probabilityBest is then 0).
   */
  arms(context?: string, draws?: number): ArmView[];
  /** Pulls of every arm in `context`, summed: how busy the context is. */
  pullsIn(context: string): number;
  /**
   * The arms route() may pick now (enabled, model available) with their quality posterior in
   * `context`. Cheap (no probability-of-best estimate): for callers that rank arms per request.
   */
  routableArms(context: string): RoutableArm[];
  arm(armId: string, context?: string): ArmView | undefined;
  setArmEnabled(armId: string, enabled: boolean): ArmView;
  contexts(): string[];
}

export interface RoutableArm {
  readonly id: string;
  readonly modelId: string;
  readonly posterior: Posterior;
}

export interface AdaptiveRouterDeps {
  readonly arms: readonly ArmConfig[];
  readonly policy: BanditPolicy;
  readonly reward: RewardCalculator;
  readonly classify: ContextClassifier;
  /**
   * Most contexts the router keeps statistics for. Tags come from clients, so without a bound
   * every new tag combination would grow memory; past it, a new context is routed in its nearest
   * known ancestor (ultimately the global context).
   */
  readonly maxContexts?: number;
  /** False for a model whose circuit is open: its arms are skipped while others remain. */
  readonly isModelAvailable?: (modelId: string) => boolean;
}

export function createAdaptiveRouter(deps: AdaptiveRouterDeps): AdaptiveRouter {
  const { policy, reward } = deps;
  const maxContexts = deps.maxContexts ?? Infinity;
  const knownContexts = new Set(policy.contexts());
  const classify = (messages: RouteRequest['messages'], tags: RouteRequest['tags']): string => {
    let context = deps.classify(messages, tags);
    if (knownContexts.has(context)) return context;
    if (knownContexts.size < maxContexts) {
      for (const c of contextChain(context)) if (c !== GLOBAL_CONTEXT) knownContexts.add(c);
      return context;
    }
    while (context !== GLOBAL_CONTEXT && !knownContexts.has(context)) context = parentContext(context);
    return context;
  };
  const arms = new Map(deps.arms.map((arm) => [arm.id, { config: arm, enabled: arm.enabled }]));
  const isModelAvailable = deps.isModelAvailable ?? (() => true);

  const armList = [...arms.values()];
  const enabledArmIds = () => {
    const ids: string[] = [];
    for (const a of armList) if (a.enabled) ids.push(a.config.id);
    return ids;
  };

  const candidatesFor = (excluded: ReadonlySet<string> | null) => {
    const ids: string[] = [];
    for (const a of armList) {
      if (a.enabled && !excluded?.has(a.config.id) && isModelAvailable(a.config.model)) ids.push(a.config.id);
    }
    return ids;
  };

  const routingConfidence = createRoutingConfidence();
  // Utilities of the candidates of one decision, reused across decisions.
  let means = new Float64Array(arms.size + 1);
  let sds = new Float64Array(arms.size + 1);
  const confidenceOf = (armId: string, context: string, candidates: readonly string[]): number => {
    let chosen = candidates.indexOf(armId);
    const pool = chosen >= 0 ? candidates : [...candidates, armId];
    if (chosen < 0) chosen = pool.length - 1;
    if (means.length < pool.length) {
      means = new Float64Array(pool.length);
      sds = new Float64Array(pool.length);
    }
    policy.utilities(pool, context, means, sds);
    return routingConfidence.probabilityBest(chosen, pool.length, means, sds);
  };

  const decide = (armId: string, context: string, candidates: readonly string[], pinned: boolean) => {
    const confidence = confidenceOf(armId, context, candidates);
    return { armId, modelId: arms.get(armId)!.config.model, context, confidence, pinned };
  };

  const view = (armId: string, context: string): ArmView => {
    const arm = arms.get(armId)!;
    const stats = policy.stats(armId, context);
    return {
      id: armId,
      modelId: arm.config.model,
      enabled: arm.enabled,
      pulls: stats.pulls,
      rewardMean: stats.rewardWeight > 0 ? stats.rewardSum / stats.rewardWeight : null,
      posterior: summarizePosterior(stats.posterior.alpha, stats.posterior.beta),
      probabilityBest: 0,
    };
  };

  return {
    policyName: policy.name,
    route(request) {
      const context = classify(request.messages, request.tags);
      if (request.pinnedArmId !== undefined) {
        const arm = arms.get(request.pinnedArmId);
        if (!arm) throw new RouterError('UNKNOWN_ARM', `unknown arm "${request.pinnedArmId}"`);
        if (!arm.enabled) throw new RouterError('ARM_DISABLED', `arm "${request.pinnedArmId}" is disabled`);
        return decide(arm.config.id, context, enabledArmIds(), true);
      }
      let candidates = candidatesFor(null);
      // Every circuit open: trying a model beats refusing outright.
      if (candidates.length === 0) candidates = enabledArmIds();
      if (candidates.length === 0) throw new RouterError('NO_ARM_AVAILABLE', 'no arm is enabled');
      return decide(policy.select(candidates, context), context, candidates, false);
    },
    describe(armId, request) {
      if (!arms.has(armId)) throw new RouterError('UNKNOWN_ARM', `unknown arm "${armId}"`);
      const context = classify(request.messages, request.tags);
      return decide(armId, context, enabledArmIds(), request.pinnedArmId !== undefined);
    },
    failover(failed, excluded) {
      if (failed.pinned) return null;
      const candidates = candidatesFor(excluded);
      if (candidates.length === 0) return null;
      let best = candidates[0]!;
      let bestMean = -1;
      for (const id of candidates) {
        const p = policy.stats(id, failed.context).posterior;
        const mean = p.alpha / (p.alpha + p.beta);
        if (mean > bestMean) {
          bestMean = mean;
          best = id;
        }
      }
      return decide(best, failed.context, candidates, false);
    },
    recordAttempt(decision) {
      policy.recordPull(decision.armId, decision.context);
    },
    recordOutcome(decision, metrics) {
      // Cost and latency are measured on every call (a cache hit measures the cache, not the model).
      if (!metrics.cached) {
        policy.recordOperational(decision.armId, decision.context, {
          costUsd: metrics.costUsd,
          latencyMs: metrics.latencyMs,
        });
      }
      const part = reward.operational(metrics);
      if (part) policy.update(decision.armId, decision.context, part.reward, part.weight);
      return part;
    },
    rewardOf(observed, quality) {
      return reward.requestReward(observed, quality, policy.operationalReference());
    },
    applyFeedback(decision, score, previous) {
      if (previous !== null) {
        const old = reward.quality(previous);
        policy.update(decision.armId, decision.context, old.reward, -old.weight);
      }
      const part = reward.quality(score);
      policy.update(decision.armId, decision.context, part.reward, part.weight);
      return part;
    },
    pullsIn(context) {
      let pulls = 0;
      for (const id of arms.keys()) pulls += policy.stats(id, context).pulls;
      return pulls;
    },
    arms(context = GLOBAL_CONTEXT, draws = 2_000) {
      const ids = [...arms.keys()];
      const enabled = enabledArmIds();
      const best =
        enabled.length > 0 && draws > 0 ? policy.probabilityBest(enabled, context, draws) : new Map<string, number>();
      return ids.map((id) => ({ ...view(id, context), probabilityBest: best.get(id) ?? 0 }));
    },
    routableArms(context) {
      return candidatesFor(null).map((id) => ({
        id,
        modelId: arms.get(id)!.config.model,
        posterior: policy.stats(id, context).posterior,
      }));
    },
    arm(armId, context = GLOBAL_CONTEXT) {
      if (!arms.has(armId)) return undefined;
      // Answers to feedback and admin mutations: 500 draws (standard error ≤ 0.022) keep them cheap.
      return this.arms(context, 500).find((a) => a.id === armId);
    },
    setArmEnabled(armId, enabled) {
      const arm = arms.get(armId);
      if (!arm) throw new RouterError('UNKNOWN_ARM', `unknown arm "${armId}"`);
      if (!enabled && arm.enabled && enabledArmIds().length === 1) {
        throw new RouterError('NO_ARM_AVAILABLE', 'cannot disable the last enabled arm');
      }
      arm.enabled = enabled;
      return this.arm(armId)!;
    },
    contexts: () => policy.contexts(),
  };
}
