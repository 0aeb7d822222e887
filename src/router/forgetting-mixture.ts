import type { Rng } from './random.js';

/**
 * Drift without a knob: besides its long memory (evidence decayed with `bandit.halfLife`), every
 * (arm, context) keeps the same evidence decayed with a few shorter half-lives, and every context
 * scores each memory by how well it predicted the rewards observed there (the log predictive
 * likelihood of each reward under the memory's posterior mean before the reward was added,
 * decayed per observation). Thompson sampling draws one memory per decision with probability
 * proportional to exp(score), then every candidate's quality from that memory's posteriors:
 * Bayesian model averaging over forgetting rates.
 *
 * Stationary: the long memory predicts best (it averages more observations, and an arm explored
 * after a while is predicted from its record rather than from a prior), so it wins the weight and
 * the router keeps the efficiency of long memory. After a change of the arm in use, the long
 * memory keeps predicting the old mean while a short one follows; the score moves within tens of
 * the context's requests, and the router follows the short memory until the long one has caught up.
 * The score is per context, not per arm: an arm left alone predicts nothing, and one memory per
 * decision keeps the comparison between arms within one model of the world.
 */

export interface ForgettingMixtureOptions {
  /** Half-lives (ticks of the context clock) of the short memories, besides the long one. */
  readonly halfLives: readonly number[];
  /** Observations of the context after which a memory's predictive score counts half. */
  readonly scoreHalfLife: number;
}

export interface ForgettingMixture {
  readonly halfLives: readonly number[];
  /** Memories in all, the long one (index 0) included. */
  readonly size: number;
  /** The factor each short memory's evidence keeps after `elapsed` ticks. */
  decayFactor(index: number, elapsed: number): number;
  /**
   * Scores every memory on `reward` observed with `weight`: `means[i]` is memory i's predicted
   * probability of success (its posterior mean before the reward is added).
   */
  score(scores: number[], means: readonly number[], reward: number, weight: number): void;
  /** Probability of each memory: proportional to exp(score). */
  weights(scores: readonly number[]): number[];
  /** A memory index drawn by weight. */
  draw(rng: Rng, scores: readonly number[]): number;
}

/**
 * Prior odds e^3 ≈ 20 : 1 of the long memory against each short one: evidence of a change must
 * overcome 3 nats (about 20 requests after a drop of 0.3 in the arm in use) before the router
 * follows a short memory, so stationary traffic draws from the long memory nearly always
 * (measured: without them, a 0.6/0.5 bandit drew from a short memory 10–25% of the time and paid
 * twice exact Thompson sampling's regret; with odds e^2, 1.48×; e^3, 1.35×; e^4, 1.32×).
 */
const LOG_PRIOR_ODDS = 3;

/** Predictions are floored so one surprising reward cannot send a memory's score to -Infinity. */
const PROBABILITY_FLOOR = 1e-3;

export function createForgettingMixture(options: ForgettingMixtureOptions): ForgettingMixture {
  const { halfLives, scoreHalfLife } = options;
  if (halfLives.some((h) => !(h > 0))) throw new RangeError('short half-lives must be > 0');
  if (!(scoreHalfLife > 0)) throw new RangeError('scoreHalfLife must be > 0');
  const rates = halfLives.map((h) => Math.LN2 / h);
  const scoreDecay = 2 ** (-1 / scoreHalfLife);

  const logPrior = [0, ...halfLives.map(() => -LOG_PRIOR_ODDS)];
  const weights = (scores: readonly number[]): number[] => {
    const posterior = scores.map((s, i) => s + logPrior[i]!);
    const top = Math.max(...posterior);
    const raw = posterior.map((s) => Math.exp(s - top));
    const total = raw.reduce((a, b) => a + b, 0);
    return raw.map((w) => w / total);
  };

  return {
    halfLives,
    size: halfLives.length + 1,
    decayFactor: (index, elapsed) => Math.exp(-rates[index]! * elapsed),
    score(scores, means, reward, weight) {
      // A retraction is not a prediction: it corrects evidence and leaves the scores alone.
      if (!(weight > 0)) return;
      const decay = scoreDecay ** weight;
      means.forEach((m, i) => {
        const mean = Math.min(1 - PROBABILITY_FLOOR, Math.max(PROBABILITY_FLOOR, m));
        // A fractional score r is a weighted mix of a success and a failure.
        scores[i] = decay * scores[i]! + weight * (reward * Math.log(mean) + (1 - reward) * Math.log(1 - mean));
      });
    },
    weights,
    draw(rng, scores) {
      const w = weights(scores);
      let u = rng();
      for (let i = 0; i < w.length - 1; i++) {
        u -= w[i]!;
        if (u < 0) return i;
      }
      return w.length - 1;
    },
  };
}
