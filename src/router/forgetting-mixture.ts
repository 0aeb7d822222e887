import type { Posterior } from './bandit.js';
import type { Rng } from './random.js';

/**
 * Drift without a knob: besides its long memory (evidence decayed with `halfLife`), every (arm,
 * context) keeps the same evidence decayed with a few shorter half-lives, and scores each memory
 * by how well it predicted the arm's recent rewards (its log predictive likelihood, itself decayed
 * per observation). Thompson sampling draws a memory with probability proportional to its
 * likelihood, then a quality from that memory's posterior: Bayesian model averaging over
 * forgetting rates.
 *
 * Stationary: the long memory predicts best (it averages more observations), so it wins the
 * weight and the router keeps the efficiency of long memory. After a change, the long memory keeps
 * predicting the old mean while a short one has followed; a few observations move the weight, so
 * the arm's draws follow the short memory within tens of its pulls instead of a half-life. An arm
 * left alone is not scored (nothing to predict), and its short memories decay to the prior, so
 * if a short memory had the weight it is re-explored like a new arm.
 */

export interface ForgettingMixtureOptions {
  /** Half-lives (ticks of the context clock) of the short memories, besides the long one. */
  readonly halfLives: readonly number[];
  /** Observations of the arm after which a memory's predictive score counts half. */
  readonly scoreHalfLife: number;
}

/** The short memories of one entry and the scores of all memories, the long one first. */
export interface MemoryMixture {
  readonly alpha: number[];
  readonly beta: number[];
  /** Decayed log predictive likelihood per memory, long memory at index 0. */
  readonly score: number[];
}

export interface ForgettingMixture {
  readonly halfLives: readonly number[];
  empty(): MemoryMixture;
  /** Decays the short memories by `elapsed` ticks. */
  decay(memories: MemoryMixture, elapsed: number): void;
  /**
   * Scores each memory on `reward` (before it is added: a prediction), then adds it to the short
   * memories. `posteriors[0]` is the long memory's posterior, the rest come from {@link posteriorOf}.
   */
  observe(memories: MemoryMixture, posteriors: readonly Posterior[], reward: number, weight: number): void;
  /** Posterior of short memory `index` (1-based: 0 is the long memory, kept by the caller). */
  posteriorOf(memories: MemoryMixture, index: number, prior: Posterior): Posterior;
  /** Probability of each memory, long first: proportional to exp(score). */
  weights(memories: MemoryMixture): number[];
  /** A memory index drawn by weight. */
  draw(rng: Rng, memories: MemoryMixture): number;
}

/** Predictions are floored so one surprising reward cannot send a memory's score to -Infinity. */
const PROBABILITY_FLOOR = 1e-3;

export function createForgettingMixture(options: ForgettingMixtureOptions): ForgettingMixture {
  const { halfLives, scoreHalfLife } = options;
  if (halfLives.some((h) => !(h > 0))) throw new RangeError('short half-lives must be > 0');
  if (!(scoreHalfLife > 0)) throw new RangeError('scoreHalfLife must be > 0');
  const rates = halfLives.map((h) => Math.LN2 / h);
  const scoreDecay = 2 ** (-1 / scoreHalfLife);

  const weights = (m: MemoryMixture): number[] => {
    const top = Math.max(...m.score);
    const raw = m.score.map((s) => Math.exp(s - top));
    const total = raw.reduce((a, b) => a + b, 0);
    return raw.map((w) => w / total);
  };

  return {
    halfLives,
    empty: () => ({ alpha: halfLives.map(() => 0), beta: halfLives.map(() => 0), score: [0, ...halfLives.map(() => 0)] }),
    decay(m, elapsed) {
      if (!(elapsed > 0)) return;
      rates.forEach((rate, i) => {
        const f = Math.exp(-rate * elapsed);
        m.alpha[i]! *= f;
        m.beta[i]! *= f;
      });
    },
    observe(m, posteriors, reward, weight) {
      if (weight > 0) {
        // A fractional score r is a weighted mix of a success and a failure: log-likelihood r log p + (1 - r) log(1 - p).
        const decay = scoreDecay ** weight;
        posteriors.forEach((p, i) => {
          const mean = Math.min(1 - PROBABILITY_FLOOR, Math.max(PROBABILITY_FLOOR, p.alpha / (p.alpha + p.beta)));
          const logLikelihood = reward * Math.log(mean) + (1 - reward) * Math.log(1 - mean);
          m.score[i] = decay * m.score[i]! + weight * logLikelihood;
        });
      }
      halfLives.forEach((_, i) => {
        m.alpha[i] = Math.max(0, m.alpha[i]! + weight * reward);
        m.beta[i] = Math.max(0, m.beta[i]! + weight * (1 - reward));
      });
    },
    posteriorOf(m, index, prior) {
      return { alpha: prior.alpha + m.alpha[index - 1]!, beta: prior.beta + m.beta[index - 1]! };
    },
    weights,
    draw(rng, m) {
      const w = weights(m);
      let u = rng();
      for (let i = 0; i < w.length; i++) {
        u -= w[i]!;
        if (u < 0) return i;
      }
      return w.length - 1;
    },
  };
}
