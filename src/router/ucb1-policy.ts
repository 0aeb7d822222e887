import type { BanditPolicy, PolicyStats } from './bandit.js';
import type { DecisionTrace } from './route-explanation.js';
import type { Rng } from './random.js';

export interface Ucb1Options {
  /** Multiplier of the exploration bonus; 1 is Auer et al.'s sqrt(2 ln n / n_i). */
  readonly exploration: number;
}

/**
 * UCB1 (Auer, Cesa-Bianchi & Fischer, 2002) on the same statistics: posterior mean plus
 * exploration * sqrt(2 ln n / n_i), minus the operational penalty. Counts n_i are the arm's
 * decayed evidence plus its prior pseudo-counts, which makes it discounted UCB under forgetting
 * and keeps the bonus finite for arms never tried.
 */
export function createUcb1Policy(rng: Rng, stats: PolicyStats, options: Ucb1Options): BanditPolicy {
  return {
    name: 'ucb1',
    select(candidates, context, penaltyOf, trace?: DecisionTrace) {
      if (candidates.length === 0) throw new RangeError('select needs at least one candidate');
      // Two passes over the statistics instead of a list of scored arms: select allocates nothing.
      let total = 0;
      for (let i = 0; i < candidates.length; i++) {
        const arm = stats.read(candidates[i]!, context);
        total += arm.alpha + arm.beta;
      }
      const logTotal = Math.log(Math.max(Math.E, total));
      let best = candidates[0]!;
      let bestValue = -Infinity;
      for (let i = 0; i < candidates.length; i++) {
        const id = candidates[i]!;
        const arm = stats.read(id, context);
        const count = arm.alpha + arm.beta;
        const index = arm.alpha / count + options.exploration * Math.sqrt((2 * logTotal) / count);
        const penalty = penaltyOf ? penaltyOf(id) : arm.penalty;
        const value = index - penalty;
        if (trace) trace.scored(id, arm.alpha, arm.beta, index, penalty);
        // Random tie-breaking: equal scores (e.g. at the start) must not always favour the first arm.
        if (value > bestValue || (value === bestValue && rng() < 0.5)) {
          bestValue = value;
          best = id;
        }
      }
      return best;
    },
  };
}
