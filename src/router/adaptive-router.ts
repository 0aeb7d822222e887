import { CodedError } from '../coded-error.js';
import { createInterner } from '../interner.js';
import type { ArmConfig } from '../config/schema.js';
import type { ChatMessage } from '../models/backend.js';
import type { Learning } from '../learning/learning.js';
import { contextChain, estimateProbabilityBest, GLOBAL_CONTEXT, parentContext, type BanditPolicy, type ContextualStats, type Posterior } from './bandit.js';
import { summarizePosterior, type PosteriorSummary } from './beta-distribution.js';
import type { ContextClassifier } from './context-classifier.js';
import type { RequestObjective } from './objectives.js';
import { contextPathProblem } from './context-path.js';
import type { Rng } from './random.js';
import type { RewardCalculator } from './reward-calculator.js';
import { createDecisionTrace, explainDecision, type RecordedScore, type RouteExplanation, type RouteSelection } from './route-explanation.js';
import { createRoutingConfidence } from './routing-confidence.js';

/**
 * The adaptive router: picks an arm per request with the bandit policy, reading the learnt
 * statistics from memory. What requests teach reaches the statistics as events (src/learning);
 * the router knows nothing of transport, caching or where events go.
 */

export type RouterErrorCode = 'UNKNOWN_ARM' | 'ARM_DISABLED' | 'NO_ARM_AVAILABLE';

export class RouterError extends CodedError<RouterErrorCode> {
  override readonly name = 'RouterError';
}

export interface RouteRequest {
  readonly messages: readonly ChatMessage[];
  readonly tags?: readonly string[] | undefined;
  readonly pinnedArmId?: string | undefined;
  /** This request's own trade-off (validated by the caller); absent: the configured reward weights. */
  readonly objective?: RequestObjective | undefined;
  /** Build the decision's explanation (RouteDecision.explanation); off, the decision costs nothing extra. */
  readonly explain?: boolean | undefined;
}

export interface RouteDecision {
  readonly armId: string;
  readonly modelId: string;
  readonly context: string;
  /** Posterior probability that the chosen arm is the best one in this context. */
  readonly confidence: number;
  readonly pinned: boolean;
  /** Why this arm: only when the request asked (RouteRequest.explain). */
  readonly explanation?: RouteExplanation | undefined;
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
  /** Admin: an operator change, applied on every instance sharing the event log; resolves once applied here. */
  setArmEnabled(armId: string, enabled: boolean): Promise<ArmView>;
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
  /** The learnt statistics the router reads (events write them). */
  readonly stats: ContextualStats;
  /** Where operator changes go, and where the arms' enabled state is read from. */
  readonly learning: Pick<Learning, 'observe' | 'operator' | 'state'>;
  /** Draws of the Monte Carlo probability of being best in the arm views. */
  readonly rng: Rng;
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

/** Distinct context names shared between decisions (see createInterner). */
const INTERNED_CONTEXTS = 4_096;

export function createAdaptiveRouter(deps: AdaptiveRouterDeps): AdaptiveRouter {
  const { policy, stats, reward, learning } = deps;
  const maxContexts = deps.maxContexts ?? Infinity;
  // Contexts this instance has routed in; the learning state decides where evidence lands (the
  // same rule in log order), and contexts it admitted on other replicas are known here too.
  const routedContexts = new Set<string>();
  const isKnown = (context: string) => routedContexts.has(context) || learning.state.knownContexts().has(context);
  // The classifier builds its name per request; decisions are kept with each request record (for
  // feedback, up to requests.maxRequests), so each context's name is shared rather than copied.
  const { intern: internContext } = createInterner(INTERNED_CONTEXTS);
  const classify = (messages: RouteRequest['messages'], tags: RouteRequest['tags']): string => {
    let context = internContext(deps.classify(messages, tags));
    if (isKnown(context)) return context;
    if (Math.max(routedContexts.size, learning.state.knownContexts().size) < maxContexts) {
      for (const c of contextChain(context)) if (c !== GLOBAL_CONTEXT) routedContexts.add(c);
      return context;
    }
    while (context !== GLOBAL_CONTEXT && !isKnown(context)) context = parentContext(context);
    return context;
  };
  const arms = new Map(deps.arms.map((arm) => [arm.id, arm]));
  const isEnabled = (armId: string) => learning.operator.isArmEnabled(armId);
  const isModelAvailable = deps.isModelAvailable ?? (() => true);
  const probabilityBest = (candidates: readonly string[], context: string, draws: number) =>
    estimateProbabilityBest(deps.rng, stats, candidates, context, draws);

  const armList = [...arms.values()];
  const enabledArmIds = () => {
    const ids: string[] = [];
    for (const a of armList) if (isEnabled(a.id)) ids.push(a.id);
    return ids;
  };

  const candidatesFor = (excluded: ReadonlySet<string> | null) => {
    const ids: string[] = [];
    for (const a of armList) {
      if (isEnabled(a.id) && !excluded?.has(a.id) && isModelAvailable(a.model)) ids.push(a.id);
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
    stats.utilities(pool, context, means, sds);
    return routingConfidence.probabilityBest(chosen, pool.length, means, sds);
  };

  const decide = (armId: string, context: string, candidates: readonly string[], pinned: boolean): RouteDecision => {
    const confidence = confidenceOf(armId, context, candidates);
    return { armId, modelId: arms.get(armId)!.model, context, confidence, pinned };
  };

  // Explanations: built only for requests that ask, so none of this runs on the common path.
  const explanationConfidence = createRoutingConfidence();
  /** The candidates the policy did not score (a pinned, cached or failover arm's rivals; an epsilon-greedy random pick) as read. */
  const unscored = (ids: readonly string[], context: string, scored: RecordedScore[], penaltyOf?: (armId: string) => number) => {
    for (const id of ids) {
      if (scored.some((s) => s.armId === id)) continue;
      const reading = stats.read(id, context);
      scored.push({ armId: id, alpha: reading.alpha, beta: reading.beta, quality: null, penalty: penaltyOf ? penaltyOf(id) : reading.penalty });
    }
    return scored;
  };
  const explained = (
    decision: RouteDecision,
    selection: RouteSelection,
    candidates: readonly string[],
    scores: RecordedScore[],
    penaltyOf?: (armId: string) => number,
  ): RouteDecision => ({
    ...decision,
    explanation: explainDecision({
      selection,
      policy: policy.name,
      chosen: decision.armId,
      scores: unscored(candidates.includes(decision.armId) ? candidates : [...candidates, decision.armId], decision.context, scores, penaltyOf),
      expectedCostOf: (id) => stats.stats(id, decision.context).meanCostUsd,
      confidence: explanationConfidence,
    }),
  });

  const view = (armId: string, context: string): ArmView => {
    const arm = arms.get(armId)!;
    const armStats = stats.stats(armId, context);
    return {
      id: armId,
      modelId: arm.model,
      enabled: isEnabled(armId),
      pulls: armStats.pulls,
      rewardMean: armStats.rewardWeight > 0 ? armStats.rewardSum / armStats.rewardWeight : null,
      posterior: summarizePosterior(armStats.posterior.alpha, armStats.posterior.beta),
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
        if (!isEnabled(arm.id)) throw new RouterError('ARM_DISABLED', `arm "${request.pinnedArmId}" is disabled`);
        const decision = decide(arm.id, context, enabledArmIds(), true);
        return request.explain ? explained(decision, 'pinned', enabledArmIds(), []) : decision;
      }
      let candidates = candidatesFor(null);
      // Every circuit open: trying a model beats refusing outright.
      if (candidates.length === 0) candidates = enabledArmIds();
      if (candidates.length === 0) throw new RouterError('NO_ARM_AVAILABLE', 'no arm is enabled');
      const objective = request.objective;
      const trace = request.explain ? createDecisionTrace() : undefined;
      if (!objective) {
        const decision = decide(policy.select(candidates, context, undefined, trace), context, candidates, false);
        return trace ? explained(decision, 'policy', candidates, trace.scores) : decision;
      }
      const expected = (id: string) => {
        const s = stats.stats(id, context);
        return { costUsd: s.meanCostUsd ?? 0, latencyMs: s.meanLatencyMs ?? 0, known: s.meanCostUsd !== null };
      };
      if (objective.maxCostUsd !== undefined) {
        const ceiling = objective.maxCostUsd;
        const within = candidates.filter((id) => {
          const e = expected(id);
          return !e.known || e.costUsd <= ceiling;
        });
        candidates =
          within.length > 0
            ? within
            : [candidates.reduce((cheapest, id) => (expected(id).costUsd < expected(cheapest).costUsd ? id : cheapest))];
      }
      const weighted = objective.costWeight !== undefined || objective.latencyWeight !== undefined;
      const reference = stats.reference();
      const penaltyOf = weighted ? (id: string) => reward.penaltyFor(objective, expected(id), reference) : undefined;
      const decision = decide(policy.select(candidates, context, penaltyOf, trace), context, candidates, false);
      return trace ? explained(decision, 'policy', candidates, trace.scores, penaltyOf) : decision;
    },
    describe(armId, request) {
      if (!arms.has(armId)) throw new RouterError('UNKNOWN_ARM', `unknown arm "${armId}"`);
      const context = classify(request.messages, request.tags);
      const decision = decide(armId, context, enabledArmIds(), request.pinnedArmId !== undefined);
      return request.explain ? explained(decision, 'cached', enabledArmIds(), []) : decision;
    },
    failover(failed, excluded) {
      if (failed.pinned) return null;
      const candidates = candidatesFor(excluded);
      if (candidates.length === 0) return null;
      let best = candidates[0]!;
      let bestMean = -1;
      for (const id of candidates) {
        const p = stats.stats(id, failed.context).posterior;
        const mean = p.alpha / (p.alpha + p.beta);
        if (mean > bestMean) {
          bestMean = mean;
          best = id;
        }
      }
      const decision = decide(best, failed.context, candidates, false);
      return failed.explanation ? explained(decision, 'failover', candidates, []) : decision;
    },
    rewardOf(observed, quality) {
      return reward.requestReward(observed, quality, stats.reference());
    },
    pullsIn(context) {
      let pulls = 0;
      for (const id of arms.keys()) pulls += stats.stats(id, context).pulls;
      return pulls;
    },
    arms(context = GLOBAL_CONTEXT, draws = 2_000) {
      const problem = contextPathProblem(context);
      if (problem) throw new CodedError('INVALID_CONTEXT', problem);
      const ids = [...arms.keys()];
      const enabled = enabledArmIds();
      const best = enabled.length > 0 && draws > 0 ? probabilityBest(enabled, context, draws) : new Map<string, number>();
      return ids.map((id) => ({ ...view(id, context), probabilityBest: best.get(id) ?? 0 }));
    },
    routableArms(context) {
      return candidatesFor(null).map((id) => ({
        id,
        modelId: arms.get(id)!.model,
        posterior: stats.stats(id, context).posterior,
      }));
    },
    arm(armId, context = GLOBAL_CONTEXT) {
      if (!arms.has(armId)) return undefined;
      // Answers to feedback and admin mutations: 500 draws (standard error ≤ 0.022) keep them cheap.
      return this.arms(context, 500).find((a) => a.id === armId);
    },
    async setArmEnabled(armId, enabled) {
      if (!arms.has(armId)) throw new RouterError('UNKNOWN_ARM', `unknown arm "${armId}"`);
      if (!enabled && isEnabled(armId) && enabledArmIds().length === 1) {
        throw new RouterError('NO_ARM_AVAILABLE', 'cannot disable the last enabled arm');
      }
      await learning.observe({ type: 'arm-enabled', armId, enabled });
      return this.arm(armId)!;
    },
    contexts: () => stats.contexts(),
  };
}
