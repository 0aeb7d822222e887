import type { DecisionTrace } from './route-explanation.js';
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

/** What penalties are priced against: the highest arm means, and what the router spends per call. */
export interface OperationalReference extends OperationalObservation {
  /** Decayed mean cost of a live call over all arms (logged outcomes excluded), 0 before any: what a budget is paced on. */
  readonly spendUsd?: number | undefined;
  /** Decayed number of live calls that mean is over. */
  readonly calls?: number | undefined;
}

/**
 * Turns an arm's expected cost and latency into quality units. `observedReference` holds the
 * highest mean cost and latency among the arms (0 before any observation).
 */
export type OperationalPenalty = (expected: OperationalObservation, observedReference: OperationalReference) => number;

/**
 * A selection policy: how an arm is picked from what the statistics say. Policies only read the
 * statistics; events change them (src/learning), so every policy sees the same evidence and none
 * of them stores any.
 */
export interface BanditPolicy {
  readonly name: string;
  /**
   * Picks one of `candidates` (non-empty) for a request in `context`. With a `trace` (only requests
   * that asked for an explanation), reports each candidate's score to it as it is made.
   */
  select(candidates: readonly string[], context: string, penaltyOf?: (armId: string) => number, trace?: DecisionTrace): string;
}

/** What a policy may read of the statistics. */
export type PolicyStats = Pick<ContextualStats, 'read'>;

/** Learnt statistics as plain JSON-safe data: per context its clock and pooled evidence, and per arm its entry. */
export interface LearnedState {
  readonly version: 1;
  readonly contexts: ReadonlyArray<{
    readonly context: string;
    readonly clock: number;
    readonly successes: number;
    readonly trials: number;
    readonly stamp: number;
    /** Live calls and their cost (decayed; the global context only, absent in older state): what a budget is paced on. */
    readonly spentCalls?: number;
    readonly spentCost?: number;
    /** The recent evidence may be missing (state saved before it existed): it then counts as stale. */
    readonly arms: ReadonlyArray<
      { readonly armId: string } & Omit<Entry, 'recentAlpha' | 'recentBeta'> & Partial<Pick<Entry, 'recentAlpha' | 'recentBeta'>>
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
  /** Context clock at which the decayed fields were last brought up to date. */
  stamp: number;
}

interface ContextNode {
  readonly parent: string;
  clock: number;
  readonly arms: Map<string, Entry>;
  /** Decayed quality evidence pooled over the context's arms (sums of their alpha and alpha + beta). */
  successes: number;
  trials: number;
  /** Clock at which the pooled evidence was last decayed. */
  stamp: number;
  /** Live calls and their cost, decayed with the pooled evidence (kept at the global context). */
  spentCalls: number;
  spentCost: number;
  /** Logit of the base rate, computed at rateVersion of the statistics. */
  logitRate: number;
  rateVersion: number;
}

const newNode = (
  context: string,
  clock: number,
  successes: number,
  trials: number,
  stamp: number,
  arms = new Map<string, Entry>(),
  spentCalls = 0,
  spentCost = 0,
): ContextNode => ({
  parent: parentContext(context),
  clock,
  arms,
  successes,
  trials,
  stamp,
  spentCalls,
  spentCost,
  logitRate: 0,
  rateVersion: -1,
});

/** An arm's posterior and operational penalty in one context, as {@link ContextualStats.read} gives them. */
export interface ArmReading {
  readonly alpha: number;
  readonly beta: number;
  readonly penalty: number;
  /**
   * The arm's quality evidence (decayed alpha + beta beyond the prior) in the context's task family:
   * its ancestor just below the global context, which holds the evidence of every context under it
   * (the context itself at depth 1). What the exploration floor counts.
   */
  readonly evidence: number;
}

/** One pseudo-observation of the parent's mean cost/latency: a single call in a new context does not fully override it. */
const OPERATIONAL_BACKOFF = 1;

/** Keeps logits finite: a rate of exactly 0 or 1 would make the prior mean degenerate. */
const RATE_FLOOR = 1e-3;
const logit = (p: number) => {
  const q = Math.min(1 - RATE_FLOOR, Math.max(RATE_FLOOR, p));
  return Math.log(q / (1 - q));
};

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
  const { prior, hierarchyStrength, halfLife, recentHalfLife, penalty, armPriors } = options;
  if (!(prior.alpha > 0 && prior.beta > 0)) throw new RangeError('prior alpha and beta must be > 0');
  const nodes = new Map<string, ContextNode>();
  // Decay per tick: 2^(-1/halfLife); 0 disables forgetting.
  const ln2OverHalfLife = halfLife > 0 ? Math.LN2 / halfLife : 0;
  const ln2OverRecentHalfLife = recentHalfLife > 0 ? Math.LN2 / recentHalfLife : 0;

  const node = (context: string): ContextNode => {
    let n = nodes.get(context);
    if (!n) {
      n = newNode(context, 0, 0, 0, 0);
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
      n.spentCalls *= f;
      n.spentCost *= f;
    }
    n.stamp = n.clock;
    return n;
  };

  // Every mutation bumps the version; what reads derive from all arms or contexts (base rates,
  // the operational reference) is computed once per version, so one routing decision over many
  // arms computes it once.
  let version = 0;

  /**
   * Logit of the context's success rate pooled over all its arms, shrunk toward the parent's with
   * `hierarchyStrength` pseudo-observations (the global context: toward the prior's mean).
   */
  const logitRate = (context: string): number => {
    const n = nodes.get(context);
    if (n && n.rateVersion === version) return n.logitRate;
    const value = logit(baseRate(context, n));
    if (n) {
      n.rateVersion = version;
      n.logitRate = value;
    }
    return value;
  };
  const baseRate = (context: string, n: ContextNode | undefined): number => {
    const successes = n ? pooled(n).successes : 0;
    const trials = n ? n.trials : 0;
    if (context === GLOBAL_CONTEXT) return (successes + prior.alpha) / (trials + prior.alpha + prior.beta);
    const parentId = n ? n.parent : parentContext(context);
    return (successes + hierarchyStrength * baseRate(parentId, nodes.get(parentId))) / (trials + hierarchyStrength);
  };

  // Results of readChain, valid until the next read. Fields of one object rather than variables of
  // the closure: V8 boxes every double written to a closure variable, but updates an object's
  // double fields in place, which keeps the reads allocation-free.
  const out = { alpha: 0, beta: 0, recentAlpha: 0, recentBeta: 0, cost: 0, latency: 0, own: 0 };

  // The chain of the context last read, root last: the same for every arm of one decision, so it
  // is resolved once per context and version rather than once per arm and level; with it, each
  // level's shift of the logit prior mean (logit rate here - logit rate of the parent), as the
  // factor exp(shift) it multiplies the odds by.
  let chainContext: string | null = null;
  let chainVersion = -1;
  let chainLength = 0;
  const chainIds: string[] = [];
  const chainNodes: Array<ContextNode | undefined> = [];
  let chainOddsFactors = new Float64Array(8);
  const resolveChain = (context: string): void => {
    if (context === chainContext && chainVersion === version) return;
    let current = context;
    chainLength = 0;
    for (;;) {
      const n = nodes.get(current);
      chainIds[chainLength] = current;
      chainNodes[chainLength] = n;
      chainLength++;
      if (current === GLOBAL_CONTEXT) break;
      current = n ? n.parent : parentContext(current);
    }
    if (chainOddsFactors.length < chainLength) chainOddsFactors = new Float64Array(2 * chainLength);
    if (hierarchyStrength !== 0) {
      for (let level = 0; level < chainLength - 1; level++) {
        chainOddsFactors[level] = Math.exp(logitRate(chainIds[level]!) - logitRate(chainIds[level + 1]!));
      }
    }
    chainContext = context;
    chainVersion = version;
  };

  /**
   * Reads one arm along the context chain, root first, without allocating. Sets out.alpha/out.beta
   * to the prior plus the context's evidence, and returns whether the arm's cost and latency were
   * observed anywhere on the chain (out.cost/out.latency then hold their means, each level backed
   * off toward its parent's with OPERATIONAL_BACKOFF pseudo-observations).
   *
   * A context's prior for an arm comes from the arm's posterior in the parent (see the module
   * comment); floors keep both shapes valid for the gamma sampler when the parent is nearly
   * certain. `evidenceScale` k > 1 sharpens the context's own evidence for sampling: recent
   * observations count k times, older ones once, and the prior keeps its width. Only recent
   * evidence is sharpened because an arm that stopped being pulled keeps a record of its past that
   * no longer describes it; counted k times, that record would hold it out of exploration for
   * several half-lives, where counted once it is re-explored like under exact Thompson sampling.
   */
  const readChain = (armId: string, context: string, evidenceScale: number): boolean => {
    const known = readLevels(armId, context);
    if (evidenceScale !== 1) {
      out.alpha += (evidenceScale - 1) * out.recentAlpha;
      out.beta += (evidenceScale - 1) * out.recentBeta;
    }
    return known;
  };

  /**
   * readChain without sharpening: out.alpha/out.beta unsharpened, and out.recentAlpha/out.recentBeta
   * the context's own recent evidence that sharpening by k adds k - 1 times.
   */
  const readLevels = (armId: string, context: string): boolean => {
    resolveChain(context);
    let alpha = prior.alpha;
    let beta = prior.beta;
    let recentAlpha = 0;
    let recentBeta = 0;
    let own = 0;
    // The context's ancestor just below the global one (the task family; the context itself at depth 1).
    const familyLevel = Math.max(0, chainLength - 2);
    let known = false;
    let cost = 0;
    let latency = 0;
    const priors = armPriors?.get(armId);
    for (let level = chainLength - 1; level >= 0; level--) {
      const n = chainNodes[level];
      const configured = priors?.get(chainIds[level]!);
      if (configured) {
        alpha = configured.alpha;
        beta = configured.beta;
      } else if (level < chainLength - 1) {
        if (hierarchyStrength === 0) {
          alpha = prior.alpha;
          beta = prior.beta;
        } else {
          // logistic(logit(parent mean) + shift), as odds: parent odds times exp(shift); no log or exp per arm.
          const parentMean = Math.min(1 - RATE_FLOOR, Math.max(RATE_FLOOR, alpha / (alpha + beta)));
          const scaled = parentMean * chainOddsFactors[level]!;
          const mean = scaled / (scaled + 1 - parentMean);
          alpha = Math.max(1e-3, hierarchyStrength * mean);
          beta = Math.max(1e-3, hierarchyStrength * (1 - mean));
        }
      }
      const found = n?.arms.get(armId);
      if (!found) continue;
      const e = bringUpToDate(n!, found);
      alpha = alpha + e.alpha;
      beta = beta + e.beta;
      if (level === familyLevel) own = e.alpha + e.beta;
      if (level === 0) {
        recentAlpha = Math.min(e.alpha, e.recentAlpha);
        recentBeta = Math.min(e.beta, e.recentBeta);
      }
      const weight = e.operationalWeight;
      if (known) {
        cost = (e.costSum + OPERATIONAL_BACKOFF * cost) / (weight + OPERATIONAL_BACKOFF);
        latency = (e.latencySum + OPERATIONAL_BACKOFF * latency) / (weight + OPERATIONAL_BACKOFF);
      } else if (weight > 0) {
        cost = e.costSum / weight;
        latency = e.latencySum / weight;
        known = true;
      }
    }
    out.alpha = alpha;
    out.beta = beta;
    out.recentAlpha = recentAlpha;
    out.recentBeta = recentBeta;
    out.cost = cost;
    out.latency = latency;
    out.own = own;
    return known;
  };

  /**
   * Readings of the arms in the context last read, kept until the statistics change (the version)
   * or another context is read: one routing decision reads each candidate for the policy's draw
   * and again for the confidence, and decisions in the same context between two events read the
   * same values. One object per arm, reused: allocation-free once every arm was read.
   */
  interface CachedReading {
    generation: number;
    alpha: number;
    beta: number;
    recentAlpha: number;
    recentBeta: number;
    penalty: number;
    own: number;
  }
  const readings = new Map<string, CachedReading>();
  let readingsContext: string | null = null;
  let readingsVersion = -1;
  let generation = 0;
  const cachedReading = (armId: string, context: string): CachedReading => {
    if (context !== readingsContext || version !== readingsVersion) {
      generation++;
      readingsContext = context;
      readingsVersion = version;
    }
    let r = readings.get(armId);
    if (r === undefined) {
      r = { generation: -1, alpha: 0, beta: 0, recentAlpha: 0, recentBeta: 0, penalty: 0, own: 0 };
      readings.set(armId, r);
    }
    if (r.generation !== generation) {
      const known = readLevels(armId, context);
      r.alpha = out.alpha;
      r.beta = out.beta;
      r.recentAlpha = out.recentAlpha;
      r.recentBeta = out.recentBeta;
      r.own = out.own;
      r.penalty = penaltyOfRead(known, reference());
      r.generation = generation;
    }
    return r;
  };

  const posterior = (armId: string, context: string, evidenceScale = 1): Posterior => {
    readChain(armId, context, evidenceScale);
    return { alpha: out.alpha, beta: out.beta };
  };

  const existing = (armId: string, context: string): Entry | undefined => {
    const n = nodes.get(context);
    const e = n?.arms.get(armId);
    return n && e ? bringUpToDate(n, e) : undefined;
  };

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


  let referenceVersion = -1;
  let currentReference: OperationalReference = { costUsd: 0, latencyMs: 0, spendUsd: 0, calls: 0 };
  const reference = (): OperationalReference => {
    if (referenceVersion !== version) {
      const root = nodes.get(GLOBAL_CONTEXT);
      const spent = root ? pooled(root) : undefined;
      currentReference = {
        costUsd: observedReference((e) => e.costSum),
        latencyMs: observedReference((e) => e.latencySum),
        spendUsd: spent && spent.spentCalls > 0 ? spent.spentCost / spent.spentCalls : 0,
        calls: spent ? spent.spentCalls : 0,
      };
      referenceVersion = version;
    }
    return currentReference;
  };

  // The penalty function reads it at once and keeps nothing, so one object serves every call.
  const expected = { costUsd: 0, latencyMs: 0 };
  const penaltyAgainst = (armId: string, context: string, ref: OperationalReference): number => {
    return penaltyOfRead(readChain(armId, context, 1), ref);
  };
  /** The penalty of the arm readChain just read. */
  const penaltyOfRead = (known: boolean, ref: OperationalReference): number => {
    // An arm never observed is assumed free and instant: optimism makes the router try it once.
    expected.costUsd = known ? out.cost : 0;
    expected.latencyMs = known ? out.latency : 0;
    return penalty(expected, ref);
  };

  const reading = { alpha: 0, beta: 0, penalty: 0, evidence: 0 };

  return {
    posterior,
    reference,
    /** A penalty function with the references fixed once, for scoring many arms in one decision. */
    penalties: () => {
      const ref = reference();
      return (armId: string, context: string) => penaltyAgainst(armId, context, ref);
    },
    penalty: (armId: string, context: string) => penaltyAgainst(armId, context, reference()),
    /**
     * The arm's posterior (sharpened by `evidenceScale`, see readPosterior) and operational
     * penalty in the context, without allocating: the returned object is reused by the next call.
     */
    read(armId: string, context: string, evidenceScale = 1): Readonly<ArmReading> {
      const r = cachedReading(armId, context);
      reading.alpha = r.alpha + (evidenceScale - 1) * r.recentAlpha;
      reading.beta = r.beta + (evidenceScale - 1) * r.recentBeta;
      reading.penalty = r.penalty;
      reading.evidence = r.own;
      return reading;
    },
    /**
     * Each candidate's utility under the (unsharpened) posterior, approximated as normal: mean and
     * standard deviation written at the candidate's index. What routing confidence reads.
     */
    utilities(candidates: readonly string[], context: string, means: Float64Array, sds: Float64Array): void {
      for (let i = 0; i < candidates.length; i++) {
        const r = cachedReading(candidates[i]!, context);
        const n = r.alpha + r.beta;
        means[i] = r.alpha / n - r.penalty;
        sds[i] = Math.sqrt((r.alpha * r.beta) / (n * n * (n + 1)));
      }
    },
    recordPull(armId: string, context: string): void {
      version++;
      for (const c of contextChain(context)) {
        entry(armId, c).pulls += 1;
        node(c).clock += 1;
      }
    },
    update(armId: string, context: string, reward: number, weight: number): void {
      if (!(reward >= 0 && reward <= 1)) throw new RangeError(`reward must be in [0, 1], got ${reward}`);
      if (!Number.isFinite(weight)) throw new RangeError(`weight must be finite, got ${weight}`);
      version++;
      for (const c of contextChain(context)) {
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
      }
    },
    /** `spent`: a call the router paid for (false for a logged outcome: it seeds the means, not the spend). */
    recordOperational(armId: string, context: string, observation: OperationalObservation, spent = true): void {
      const costUsd = Math.max(0, observation.costUsd);
      const latencyMs = Math.max(0, observation.latencyMs);
      if (!Number.isFinite(costUsd) || !Number.isFinite(latencyMs)) {
        throw new RangeError('cost and latency must be finite');
      }
      version++;
      if (spent) {
        const root = pooled(node(GLOBAL_CONTEXT));
        root.spentCalls += 1;
        root.spentCost += costUsd;
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
      const known = readChain(armId, context, 1);
      return {
        pulls: e?.pulls ?? 0,
        rewardWeight: e?.rewardWeight ?? 0,
        rewardSum: e?.rewardSum ?? 0,
        posterior: { alpha: out.alpha, beta: out.beta },
        meanCostUsd: known ? out.cost : null,
        meanLatencyMs: known ? out.latency : null,
      };
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
          ...(n.spentCalls > 0 ? { spentCalls: n.spentCalls, spentCost: n.spentCost } : {}),
          arms: [...n.arms.entries()].map(([armId, e]) => ({ armId, ...e })),
        })),
      };
    },
    restore(state: LearnedState, armIds: ReadonlySet<string>): void {
      version++;
      nodes.clear();
      for (const c of state.contexts) {
        const arms = new Map<string, Entry>();
        for (const { armId, ...entry } of c.arms) {
          if (armIds.has(armId)) {
            arms.set(armId, { ...entry, recentAlpha: entry.recentAlpha ?? 0, recentBeta: entry.recentBeta ?? 0 });
          }
        }
        nodes.set(c.context, newNode(c.context, c.clock, c.successes, c.trials, c.stamp, arms, c.spentCalls ?? 0, c.spentCost ?? 0));
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
