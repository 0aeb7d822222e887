import { createForgettingMixture, type ForgettingMixture } from './forgetting-mixture.js';
import { sampleBeta, type Rng } from './random.js';

/**
 * The statistics every bandit policy learns from, and the interface the router drives them by.
 *
 * Per (arm, context) a policy keeps:
 * - a Beta posterior over the arm's quality: a reward r with weight w adds w * r to alpha and
 *   w * (1 - r) to beta; a negative weight retracts an earlier contribution (feedback that is
 *   submitted twice replaces itself);
 * - decayed means of the arm's cost and latency per call, observed on every completed call.
 * Policies rank arms by utility = quality - penalty(cost, latency) (see reward-calculator.ts).
 *
 * Contexts form a tree by {@link CONTEXT_SEPARATOR}: 'code/short' borrows strength from 'code',
 * which borrows from {@link GLOBAL_CONTEXT}. A context's prior for an arm has `hierarchyStrength`
 * pseudo-observations and a mean that adds, on the logit scale, the arm's effect in the parent
 * (its posterior mean there) to the context's own difficulty (how the context's pooled success
 * rate over all arms differs from the parent's): logit m = logit parentMean + logit rate - logit
 * parentRate. So a new context starts from what the router knows overall rather than from zero;
 * in a context where every arm does worse (a harder task), arms not yet tried there are expected
 * to do worse too instead of looking as good as elsewhere, which spares exploring them; and the
 * context's own evidence takes over after a few requests.
 *
 * Forgetting: every context has a clock that ticks once per pull in it. Evidence decays by half
 * every `halfLife` ticks of its context's clock, i.e. the posterior relaxes toward its prior, so
 * an arm that degrades loses its traffic and an untried-for-long arm is retried. Decay is applied
 * lazily when an entry is touched, so its cost does not grow with the number of arms or contexts.
 */

export const GLOBAL_CONTEXT = '*';
export const CONTEXT_SEPARATOR = '/';

export interface Posterior {
  readonly alpha: number;
  readonly beta: number;
}

export interface ArmStats {
  /** Pulls counted in this context (never decayed). */
  readonly pulls: number;
  /** Decayed sum of weights of quality rewards received. */
  readonly rewardWeight: number;
  /** Decayed weighted sum of quality rewards; rewardSum / rewardWeight is the observed mean. */
  readonly rewardSum: number;
  /** Quality posterior, prior from the parent context included. */
  readonly posterior: Posterior;
  /** Decayed mean cost of a call in USD (backed off toward the parent context), null before any. */
  readonly meanCostUsd: number | null;
  /** Decayed mean latency of a call in ms (backed off toward the parent context), null before any. */
  readonly meanLatencyMs: number | null;
}

export interface OperationalObservation {
  readonly costUsd: number;
  readonly latencyMs: number;
}

/**
 * Turns an arm's expected cost and latency into quality units. `observedReference` holds the
 * highest mean cost and latency among the arms (0 before any observation).
 */
export type OperationalPenalty = (expected: OperationalObservation, observedReference: OperationalObservation) => number;

/**
 * A selection policy: how an arm is picked from what the statistics say. Policies only read the
 * statistics; events change them (src/learning), so every policy sees the same evidence and none
 * of them stores any.
 */
export interface BanditPolicy {
  readonly name: string;
  /** Picks one of `candidates` (non-empty) for a request in `context`. */
  select(candidates: readonly string[], context: string): string;
}

/** What a policy may read of the statistics. */
export type PolicyStats = Pick<ContextualStats, 'posterior' | 'penalties' | 'drawMemory'>;

/** Learnt statistics as plain JSON-safe data: per context its clock and pooled evidence, and per arm its entry. */
export interface LearnedState {
  readonly version: 1;
  readonly contexts: ReadonlyArray<{
    readonly context: string;
    readonly clock: number;
    readonly successes: number;
    readonly trials: number;
    readonly stamp: number;
    /** Predictive scores of the memories (see forgetting-mixture.ts); missing in state saved before they existed. */
    readonly memoryScores?: readonly number[];
    /**
     * The recent evidence and the short memories may be missing (state saved before they existed):
     * recent evidence then counts as stale, short memories start empty.
     */
    readonly arms: ReadonlyArray<
      { readonly armId: string } & Omit<Entry, 'recentAlpha' | 'recentBeta' | 'shortAlpha' | 'shortBeta'> &
        Partial<Pick<Entry, 'recentAlpha' | 'recentBeta' | 'shortAlpha' | 'shortBeta'>>
    >;
  }>;
}

export interface ContextualStatsOptions {
  /** Prior of the global context, and of every context when hierarchyStrength is 0. */
  readonly prior: Posterior;
  readonly hierarchyStrength: number;
  /** Pulls of a context after which its evidence counts half; 0 = never forget. */
  readonly halfLife: number;
  /**
   * Half-life of the recent evidence that sharpened sampling counts extra (see {@link posterior});
   * 0 = never forget it.
   */
  readonly recentHalfLife: number;
  /**
   * Short memories of the forgetting mixture (forgetting-mixture.ts): their half-lives and the
   * half-life of their predictive scores. Unset or no half-lives: the long memory alone.
   */
  readonly mixture?: { readonly halfLives: readonly number[]; readonly scoreHalfLife: number } | undefined;
  /**
   * Priors an operator configured (arms[].priors): the arm's prior in that context, replacing the
   * hierarchical one (or `prior` at the global context). Contexts below it inherit it through the hierarchy.
   */
  readonly armPriors?: ReadonlyMap<string, ReadonlyMap<string, Posterior>> | undefined;
  readonly penalty: OperationalPenalty;
}

interface Entry {
  pulls: number;
  alpha: number;
  beta: number;
  rewardWeight: number;
  rewardSum: number;
  operationalWeight: number;
  costSum: number;
  latencySum: number;
  /** The part of alpha and beta gathered recently: decayed with the (shorter) recent half-life. */
  recentAlpha: number;
  recentBeta: number;
  /** The same evidence in the short memories of the forgetting mixture, one per short half-life. */
  shortAlpha: number[];
  shortBeta: number[];
  /** Context clock at which the decayed fields were last brought up to date. */
  stamp: number;
}

interface ContextNode {
  clock: number;
  readonly arms: Map<string, Entry>;
  /** Decayed quality evidence pooled over the context's arms (sums of their alpha and alpha + beta). */
  successes: number;
  trials: number;
  /** Clock at which the pooled evidence was last decayed. */
  stamp: number;
  /** Predictive score of each memory in this context, the long one first. */
  memoryScores: number[];
}

/** Pseudo-observations of an arm's long memory in the prior of its short memories (see posterior). */
const SHORT_MEMORY_PRIOR_STRENGTH = 4;

/** One pseudo-observation of the parent's mean cost/latency: a single call in a new context does not fully override it. */
const OPERATIONAL_BACKOFF = 1;

/** Keeps logits finite: a rate of exactly 0 or 1 would make the prior mean degenerate. */
const RATE_FLOOR = 1e-3;
const logit = (p: number) => {
  const q = Math.min(1 - RATE_FLOOR, Math.max(RATE_FLOOR, p));
  return Math.log(q / (1 - q));
};
const logistic = (x: number) => 1 / (1 + Math.exp(-x));

export function parentContext(context: string): string {
  if (context === GLOBAL_CONTEXT) return GLOBAL_CONTEXT;
  const cut = context.lastIndexOf(CONTEXT_SEPARATOR);
  return cut > 0 ? context.slice(0, cut) : GLOBAL_CONTEXT;
}

/** The context and its ancestors, the global context last. */
export function contextChain(context: string): string[] {
  const chain = [context];
  let current = context;
  while (current !== GLOBAL_CONTEXT) {
    current = parentContext(current);
    chain.push(current);
  }
  return chain;
}

export type ContextualStats = ReturnType<typeof createContextualStats>;

export function createContextualStats(options: ContextualStatsOptions) {
  const { prior, hierarchyStrength, halfLife, recentHalfLife, penalty } = options;
  const mixture: ForgettingMixture | null =
    options.mixture && options.mixture.halfLives.length > 0 ? createForgettingMixture(options.mixture) : null;
  const shorts = mixture?.halfLives.length ?? 0;
  const zeros = (n: number) => Array.from({ length: n }, () => 0);
  if (!(prior.alpha > 0 && prior.beta > 0)) throw new RangeError('prior alpha and beta must be > 0');
  const nodes = new Map<string, ContextNode>();
  // Decay per tick: 2^(-1/halfLife); 0 disables forgetting.
  const ln2OverHalfLife = halfLife > 0 ? Math.LN2 / halfLife : 0;
  const ln2OverRecentHalfLife = recentHalfLife > 0 ? Math.LN2 / recentHalfLife : 0;

  const node = (context: string): ContextNode => {
    let n = nodes.get(context);
    if (!n) {
      n = { clock: 0, arms: new Map(), successes: 0, trials: 0, stamp: 0, memoryScores: zeros(shorts + 1) };
      nodes.set(context, n);
    }
    return n;
  };

  const bringUpToDate = (n: ContextNode, e: Entry): Entry => {
    const elapsed = n.clock - e.stamp;
    if (elapsed > 0 && ln2OverHalfLife > 0) {
      const f = Math.exp(-ln2OverHalfLife * elapsed);
      e.alpha *= f;
      e.beta *= f;
      e.rewardWeight *= f;
      e.rewardSum *= f;
      e.operationalWeight *= f;
      e.costSum *= f;
      e.latencySum *= f;
    }
    if (elapsed > 0 && ln2OverRecentHalfLife > 0) {
      const f = Math.exp(-ln2OverRecentHalfLife * elapsed);
      e.recentAlpha *= f;
      e.recentBeta *= f;
    }
    if (elapsed > 0 && mixture) {
      for (let i = 0; i < shorts; i++) {
        const f = mixture.decayFactor(i, elapsed);
        e.shortAlpha[i]! *= f;
        e.shortBeta[i]! *= f;
      }
    }
    e.stamp = n.clock;
    return e;
  };

  const entry = (armId: string, context: string): Entry => {
    const n = node(context);
    let e = n.arms.get(armId);
    if (!e) {
      e = {
        pulls: 0,
        alpha: 0,
        beta: 0,
        rewardWeight: 0,
        rewardSum: 0,
        operationalWeight: 0,
        costSum: 0,
        latencySum: 0,
        recentAlpha: 0,
        recentBeta: 0,
        shortAlpha: zeros(shorts),
        shortBeta: zeros(shorts),
        stamp: n.clock,
      };
      n.arms.set(armId, e);
    }
    return bringUpToDate(n, e);
  };

  /** The context's pooled evidence, decayed like its entries (every entry of a node decays by the same factor). */
  const pooled = (n: ContextNode): ContextNode => {
    const elapsed = n.clock - n.stamp;
    if (elapsed > 0 && ln2OverHalfLife > 0) {
      const f = Math.exp(-ln2OverHalfLife * elapsed);
      n.successes *= f;
      n.trials *= f;
    }
    n.stamp = n.clock;
    return n;
  };

  /**
   * Success rate of the context pooled over all its arms, shrunk toward the parent's with
   * `hierarchyStrength` pseudo-observations (the global context: toward the prior's mean).
   */
  const baseRate = (context: string): number => {
    const n = nodes.get(context);
    const successes = n ? pooled(n).successes : 0;
    const trials = n ? n.trials : 0;
    if (context === GLOBAL_CONTEXT) return (successes + prior.alpha) / (trials + prior.alpha + prior.beta);
    return (successes + hierarchyStrength * baseRate(parentContext(context))) / (trials + hierarchyStrength);
  };

  const existing = (armId: string, context: string): Entry | undefined => {
    const n = nodes.get(context);
    const e = n?.arms.get(armId);
    return n && e ? bringUpToDate(n, e) : undefined;
  };

  const priorOf = (armId: string, context: string): Posterior => {
    const configured = options.armPriors?.get(armId)?.get(context);
    if (configured) return configured;
    if (context === GLOBAL_CONTEXT || hierarchyStrength === 0) return prior;
    const parentId = parentContext(context);
    const parent = posterior(armId, parentId);
    const mean = logistic(
      logit(parent.alpha / (parent.alpha + parent.beta)) + logit(baseRate(context)) - logit(baseRate(parentId)),
    );
    // Floors keep both shapes valid for the gamma sampler when the parent is nearly certain.
    return {
      alpha: Math.max(1e-3, hierarchyStrength * mean),
      beta: Math.max(1e-3, hierarchyStrength * (1 - mean)),
    };
  };

  /**
   * Prior plus the context's evidence. `evidenceScale` k > 1 sharpens it for sampling: recent
   * observations count k times, older ones once, and the prior keeps its width. Only recent
   * evidence is sharpened because an arm that stopped being pulled keeps a record of its past
   * that no longer describes it; counted k times, that record would hold it out of exploration for
   * several half-lives, where counted once it is re-explored like under exact Thompson sampling.
   */
  const posterior = (armId: string, context: string, evidenceScale = 1, memory = 0): Posterior => {
    const base = priorOf(armId, context);
    const e = existing(armId, context);
    if (!e) return base;
    if (memory > 0) {
      // A short memory's prior is the arm's own long memory, at the hierarchy's strength: an arm's
      // recent quality is like its long-run quality until recent evidence says otherwise. (From
      // the hierarchical prior instead, a loser whose short evidence decayed would be drawn from a
      // wide prior and re-explored much more on stationary traffic.) Not sharpened: a short memory
      // commits soon enough by itself.
      const strength = SHORT_MEMORY_PRIOR_STRENGTH;
      const long = { alpha: base.alpha + e.alpha, beta: base.beta + e.beta };
      const mean = long.alpha / (long.alpha + long.beta);
      return {
        alpha: strength * mean + e.shortAlpha[memory - 1]!,
        beta: strength * (1 - mean) + e.shortBeta[memory - 1]!,
      };
    }
    const extra = evidenceScale - 1;
    if (extra === 0) return { alpha: base.alpha + e.alpha, beta: base.beta + e.beta };
    return {
      alpha: base.alpha + e.alpha + extra * Math.min(e.alpha, e.recentAlpha),
      beta: base.beta + e.beta + extra * Math.min(e.beta, e.recentBeta),
    };
  };

  /** Backed-off mean of cost or latency; null when nothing was observed anywhere on the chain. */
  const operationalMean = (armId: string, context: string, pick: (e: Entry) => number): number | null => {
    const e = existing(armId, context);
    const parent = context === GLOBAL_CONTEXT ? null : operationalMean(armId, parentContext(context), pick);
    const weight = e?.operationalWeight ?? 0;
    if (parent === null) return weight > 0 ? pick(e!) / weight : null;
    return ((e ? pick(e) : 0) + OPERATIONAL_BACKOFF * parent) / (weight + OPERATIONAL_BACKOFF);
  };
  const meanCost = (armId: string, context: string) => operationalMean(armId, context, (e) => e.costSum);
  const meanLatency = (armId: string, context: string) => operationalMean(armId, context, (e) => e.latencySum);

  /** The highest global mean among arms: what makes a cost weight independent of the price scale. */
  const observedReference = (pick: (e: Entry) => number): number => {
    const root = nodes.get(GLOBAL_CONTEXT);
    let highest = 0;
    if (!root) return highest;
    for (const e of root.arms.values()) {
      bringUpToDate(root, e);
      if (e.operationalWeight > 0) highest = Math.max(highest, pick(e) / e.operationalWeight);
    }
    return highest;
  };

  const reference = (): OperationalObservation => ({
    costUsd: observedReference((e) => e.costSum),
    latencyMs: observedReference((e) => e.latencySum),
  });

  const penaltyWith = (ref: OperationalObservation) => (armId: string, context: string) =>
    // An arm never observed is assumed free and instant: optimism makes the router try it once.
    penalty({ costUsd: meanCost(armId, context) ?? 0, latencyMs: meanLatency(armId, context) ?? 0 }, ref);

  return {
    posterior,
    reference,
    /** A penalty function with the references fixed once, for scoring many arms in one decision. */
    penalties: () => penaltyWith(reference()),
    penalty: (armId: string, context: string) => penaltyWith(reference())(armId, context),
    recordPull(armId: string, context: string): void {
      for (const c of contextChain(context)) {
        entry(armId, c).pulls += 1;
        node(c).clock += 1;
      }
    },
    update(armId: string, context: string, reward: number, weight: number): void {
      if (!(reward >= 0 && reward <= 1)) throw new RangeError(`reward must be in [0, 1], got ${reward}`);
      if (!Number.isFinite(weight)) throw new RangeError(`weight must be finite, got ${weight}`);
      for (const c of contextChain(context)) {
        if (mixture && weight > 0) {
          const means = Array.from({ length: shorts + 1 }, (_, i) => {
            const p = posterior(armId, c, 1, i);
            return p.alpha / (p.alpha + p.beta);
          });
          mixture.score(node(c).memoryScores, means, reward, weight);
        }
        const e = entry(armId, c);
        const n = pooled(node(c));
        n.successes = Math.max(0, n.successes + weight * reward);
        n.trials = Math.max(0, n.trials + weight);
        // A retraction arriving after some decay removes slightly more than what is left of the
        // original; clamping at zero evidence bounds that error by the retracted weight.
        e.rewardWeight = Math.max(0, e.rewardWeight + weight);
        e.rewardSum = Math.max(0, e.rewardSum + weight * reward);
        e.alpha = Math.max(0, e.alpha + weight * reward);
        e.beta = Math.max(0, e.beta + weight * (1 - reward));
        e.recentAlpha = Math.max(0, e.recentAlpha + weight * reward);
        e.recentBeta = Math.max(0, e.recentBeta + weight * (1 - reward));
        for (let i = 0; i < shorts; i++) {
          e.shortAlpha[i] = Math.max(0, e.shortAlpha[i]! + weight * reward);
          e.shortBeta[i] = Math.max(0, e.shortBeta[i]! + weight * (1 - reward));
        }
      }
    },
    recordOperational(armId: string, context: string, observation: OperationalObservation): void {
      const costUsd = Math.max(0, observation.costUsd);
      const latencyMs = Math.max(0, observation.latencyMs);
      if (!Number.isFinite(costUsd) || !Number.isFinite(latencyMs)) {
        throw new RangeError('cost and latency must be finite');
      }
      for (const c of contextChain(context)) {
        const e = entry(armId, c);
        e.operationalWeight += 1;
        e.costSum += costUsd;
        e.latencySum += latencyMs;
      }
    },
    stats(armId: string, context: string = GLOBAL_CONTEXT): ArmStats {
      const e = existing(armId, context);
      return {
        pulls: e?.pulls ?? 0,
        rewardWeight: e?.rewardWeight ?? 0,
        rewardSum: e?.rewardSum ?? 0,
        posterior: posterior(armId, context),
        meanCostUsd: meanCost(armId, context),
        meanLatencyMs: meanLatency(armId, context),
      };
    },
    /** Probability of each memory in `context`, the long one first ([1] without a mixture). */
    memoryWeights(context: string): number[] {
      if (!mixture) return [1];
      const n = nodes.get(context);
      return mixture.weights(n ? n.memoryScores : zeros(shorts + 1));
    },
    /** A memory for one decision in `context`, drawn by weight (0, the long memory, without a mixture). */
    drawMemory(rng: Rng, context: string): number {
      if (!mixture) return 0;
      const n = nodes.get(context);
      return n ? mixture.draw(rng, n.memoryScores) : mixture.draw(rng, zeros(shorts + 1));
    },
    /** Evidence weight (alpha + beta beyond the prior) of the arm in the context, decayed. */
    evidence(armId: string, context: string): number {
      const e = existing(armId, context);
      return e ? e.alpha + e.beta : 0;
    },
    contexts(): string[] {
      return [...nodes.keys()].filter((c) => c !== GLOBAL_CONTEXT);
    },
    snapshot(): LearnedState {
      return {
        version: 1,
        contexts: [...nodes.entries()].map(([context, n]) => ({
          context,
          clock: n.clock,
          successes: n.successes,
          trials: n.trials,
          stamp: n.stamp,
          memoryScores: [...n.memoryScores],
          arms: [...n.arms.entries()].map(([armId, e]) => ({ armId, ...e, shortAlpha: [...e.shortAlpha], shortBeta: [...e.shortBeta] })),
        })),
      };
    },
    restore(state: LearnedState, armIds: ReadonlySet<string>): void {
      nodes.clear();
      // Memories saved under other half-lives (or before the mixture existed) do not describe these: they start empty.
      const fitting = (values: readonly number[] | undefined, length: number) =>
        values !== undefined && values.length === length ? [...values] : zeros(length);
      for (const c of state.contexts) {
        const arms = new Map<string, Entry>();
        for (const { armId, ...entry } of c.arms) {
          if (armIds.has(armId)) {
            const sameShorts = entry.shortAlpha?.length === shorts && entry.shortBeta?.length === shorts;
            arms.set(armId, {
              ...entry,
              recentAlpha: entry.recentAlpha ?? 0,
              recentBeta: entry.recentBeta ?? 0,
              shortAlpha: sameShorts ? [...entry.shortAlpha!] : zeros(shorts),
              shortBeta: sameShorts ? [...entry.shortBeta!] : zeros(shorts),
            });
          }
        }
        const memoryScores = fitting(c.memoryScores, shorts + 1);
        nodes.set(c.context, { clock: c.clock, successes: c.successes, trials: c.trials, stamp: c.stamp, arms, memoryScores });
      }
    },
  };
}

/** Monte Carlo estimate of P(arm has the highest utility) from joint posterior draws. */
export function estimateProbabilityBest(
  rng: Rng,
  stats: ContextualStats,
  candidates: readonly string[],
  context: string,
  draws: number,
): Map<string, number> {
  if (candidates.length === 1) return new Map([[candidates[0]!, 1]]);
  const penaltyOf = stats.penalties();
  const arms = candidates.map((id) => ({ id, posterior: stats.posterior(id, context), penalty: penaltyOf(id, context) }));
  const wins = new Map<string, number>(candidates.map((id) => [id, 0]));
  for (let i = 0; i < draws; i++) {
    let best = arms[0]!.id;
    let bestValue = -Infinity;
    for (const arm of arms) {
      const value = sampleBeta(rng, arm.posterior.alpha, arm.posterior.beta) - arm.penalty;
      if (value > bestValue) {
        bestValue = value;
        best = arm.id;
      }
    }
    wins.set(best, wins.get(best)! + 1);
  }
  for (const id of candidates) wins.set(id, wins.get(id)! / draws);
  return wins;
}
