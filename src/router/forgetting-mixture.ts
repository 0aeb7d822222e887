import type { ArmReading, BanditPolicy, ContextualStats, PolicyStats } from './bandit.js';
import type { Rng } from './random.js';

/**
 * Drift without a knob: besides the long memory (the statistics, decayed with bandit.halfLife),
 * each context keeps the same quality evidence decayed with a few short half-lives, and scores every
 * memory by how well it predicted the rewards observed there (log predictive likelihood, decayed per
 * observation). A decision draws one memory with probability proportional to exp(score + log prior)
 * and samples every candidate from it: Bayesian model averaging over forgetting rates.
 *
 * What a shift of the task mix must not do is read as drift: when a context's prompts get harder,
 * every arm does worse at once, while drift moves one arm against the others. So the memories are
 * scored *relative to the context's current difficulty*: each prediction is shifted in logit by how
 * far the context's recent success rate (pooled over its arms) has moved from the rate over that
 * memory's own window. Under a shift of difficulty the long memory, shifted, predicts every arm as
 * well as a short one and keeps the weight; when the arm in use degrades alone, the arms explored
 * beside it do better than the shifted long memory predicts, and the short memory wins.
 * A short memory's prior for an arm is the arm's long-memory mean (shifted the same way) at
 * `priorStrength` pseudo-observations: it forgets the arm's recent record, not what the arm is.
 */

export interface ForgettingMixtureOptions {
  /** Half-lives (observations of the context) of the short memories. */
  readonly halfLives: readonly number[];
  /** The long memory's half-life (bandit.halfLife; 0 = never forget), for its pooled rate. */
  readonly longHalfLife: number;
  /** Observations of the context after which a memory's predictive score counts half. */
  readonly scoreHalfLife: number;
  /** Log prior odds of the long memory against each short one. */
  readonly logPriorOdds: number;
  /** Pseudo-observations of the long mean in a short memory's prior. */
  readonly priorStrength: number;
  /** Shift predictions by the context's change of difficulty (see above); false: raw predictions. */
  readonly relative: boolean;
  /** Half-life of the context's "current" success rate that the shift is measured to. */
  readonly recentHalfLife: number;
}

interface ShortEntry {
  readonly alpha: Float64Array;
  readonly beta: Float64Array;
  stamp: number;
}

interface MixtureNode {
  clock: number;
  /** Per memory (0 = long), the decayed log predictive score. */
  readonly scores: Float64Array;
  /** Per memory, pooled successes and trials of the context over its window; the last slot: the recent rate. */
  readonly successes: Float64Array;
  readonly trials: Float64Array;
  readonly arms: Map<string, ShortEntry>;
}

const FLOOR = 1e-3;
const clamp = (p: number) => Math.min(1 - FLOOR, Math.max(FLOOR, p));
const logit = (p: number) => {
  const q = clamp(p);
  return Math.log(q / (1 - q));
};
const logistic = (x: number) => 1 / (1 + Math.exp(-x));

export interface ForgettingMixture {
  readonly size: number;
  /** Scores the memories on a reward about to be added, and adds it to the short memories. Call before the long update. */
  observe(armId: string, context: string, reward: number, weight: number): void;
  /** Probability of each memory in the context. */
  weights(context: string): number[];
  /** A memory index drawn by weight (allocates nothing: it runs on every decision). */
  draw(rng: Rng, context: string): number;
  /** Forgets everything (the long memory was replaced, e.g. by a restored state). */
  reset(): void;
  /** Short memory `index` (≥ 1) as policy statistics. */
  view(index: number): PolicyStats;
}

export function createForgettingMixture(long: ContextualStats, options: ForgettingMixtureOptions): ForgettingMixture {
  const shorts = options.halfLives.length;
  const size = shorts + 1;
  // Memory i's pooled-rate decay per observation; slot `size` is the recent rate.
  const halfLives = [options.longHalfLife, ...options.halfLives, options.recentHalfLife];
  const rateDecay = halfLives.map((h) => (h > 0 ? 2 ** (-1 / h) : 1));
  const scoreDecay = 2 ** (-1 / options.scoreHalfLife);
  const logPrior = Array.from({ length: size }, (_, i) => (i === 0 ? 0 : -options.logPriorOdds));
  const nodes = new Map<string, MixtureNode>();

  const nodeOf = (context: string): MixtureNode => {
    let n = nodes.get(context);
    if (!n) {
      n = {
        clock: 0,
        scores: new Float64Array(size),
        successes: new Float64Array(size + 1),
        trials: new Float64Array(size + 1),
        arms: new Map(),
      };
      nodes.set(context, n);
    }
    return n;
  };

  const entryOf = (n: MixtureNode, armId: string): ShortEntry => {
    let e = n.arms.get(armId);
    if (!e) {
      e = { alpha: new Float64Array(shorts), beta: new Float64Array(shorts), stamp: n.clock };
      n.arms.set(armId, e);
    }
    if (e.stamp !== n.clock) {
      const elapsed = n.clock - e.stamp;
      for (let j = 0; j < shorts; j++) {
        const f = 2 ** (-elapsed / options.halfLives[j]!);
        e.alpha[j]! *= f;
        e.beta[j]! *= f;
      }
      e.stamp = n.clock;
    }
    return e;
  };

  /** The logit shift from memory i's window to the context's current difficulty (0 unless relative). */
  const shift = (n: MixtureNode, i: number): number => {
    if (!options.relative) return 0;
    const rate = (k: number) => (n.successes[k]! + 1) / (n.trials[k]! + 2);
    return logit(rate(size)) - logit(rate(i));
  };

  // The long memory's cached reading (the same unsharpened posterior as long.posterior, without
  // allocating or walking the context chain again per arm: a short memory's draw reads every candidate).
  const longMean = (armId: string, context: string): number => {
    const p = long.read(armId, context);
    return p.alpha / (p.alpha + p.beta);
  };

  /** Short memory j's (1-based index) posterior of the arm. */
  const shortPosterior = (
    n: MixtureNode | undefined,
    index: number,
    armId: string,
    context: string,
    out: { alpha: number; beta: number },
    evidenceScale = 1,
  ) => {
    const s = options.priorStrength;
    const mean = longMean(armId, context);
    const e = n?.arms.has(armId) ? entryOf(n, armId) : undefined;
    out.alpha = s * mean + (e ? evidenceScale * e.alpha[index - 1]! : 0);
    out.beta = s * (1 - mean) + (e ? evidenceScale * e.beta[index - 1]! : 0);
  };

  const weights = (context: string): number[] => {
    const n = nodes.get(context);
    const post = logPrior.map((p, i) => p + (n ? n.scores[i]! : 0));
    const top = Math.max(...post);
    const raw = post.map((v) => Math.exp(v - top));
    const total = raw.reduce((a, b) => a + b, 0);
    return raw.map((w) => w / total);
  };

  const tmp = { alpha: 0, beta: 0 };
  return {
    size,
    observe(armId, context, reward, weight) {
      const n = nodeOf(context);
      if (!(weight > 0)) {
        // A retraction corrects evidence; it is not a prediction, so the scores stay.
        const e = entryOf(n, armId);
        for (let j = 0; j < shorts; j++) {
          e.alpha[j] = Math.max(0, e.alpha[j]! + weight * reward);
          e.beta[j] = Math.max(0, e.beta[j]! + weight * (1 - reward));
        }
        return;
      }
      const base = longMean(armId, context);
      for (let i = 0; i < size; i++) {
        let p = base;
        if (i > 0) {
          shortPosterior(n, i, armId, context, tmp);
          p = tmp.alpha / (tmp.alpha + tmp.beta);
        }
        const q = clamp(options.relative ? logistic(logit(p) + shift(n, i)) : p);
        n.scores[i] = scoreDecay ** weight * n.scores[i]! + weight * (reward * Math.log(q) + (1 - reward) * Math.log(1 - q));
      }
      const e = entryOf(n, armId);
      for (let j = 0; j < shorts; j++) {
        e.alpha[j]! += weight * reward;
        e.beta[j]! += weight * (1 - reward);
      }
      for (let k = 0; k <= size; k++) {
        const f = rateDecay[k]! ** weight;
        n.successes[k] = f * n.successes[k]! + weight * reward;
        n.trials[k] = f * n.trials[k]! + weight;
      }
      n.clock += weight;
    },
    weights,
    draw(rng, context) {
      const n = nodes.get(context);
      // Before any evidence the prior odds alone decide.
      const scores = n?.scores;
      let top = -Infinity;
      for (let i = 0; i < size; i++) top = Math.max(top, logPrior[i]! + (scores ? scores[i]! : 0));
      let total = 0;
      for (let i = 0; i < size; i++) total += Math.exp(logPrior[i]! + (scores ? scores[i]! : 0) - top);
      let u = rng() * total;
      for (let i = 0; i < size - 1; i++) {
        u -= Math.exp(logPrior[i]! + (scores ? scores[i]! : 0) - top);
        if (u < 0) return i;
      }
      return size - 1;
    },
    reset() {
      nodes.clear();
    },
    view(index) {
      const reading = { alpha: 0, beta: 0, penalty: 0, evidence: 0 };
      return {
        read(armId: string, context: string, evidenceScale = 1): Readonly<ArmReading> {
          const { penalty, evidence } = long.read(armId, context);
          shortPosterior(nodes.get(context), index, armId, context, reading, evidenceScale);
          reading.penalty = penalty;
          reading.evidence = evidence;
          return reading;
        },
      };
    },
  };
}

/** Thompson sampling over the mixture: one memory drawn per decision, every candidate sampled from it. */
export function createMixturePolicy(rng: Rng, mixture: ForgettingMixture, policies: readonly BanditPolicy[]): BanditPolicy {
  return {
    name: policies[0]!.name,
    select(candidates, context, penaltyOf, trace) {
      return policies[mixture.draw(rng, context)]!.select(candidates, context, penaltyOf, trace);
    },
  };
}
