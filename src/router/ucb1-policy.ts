import type { BanditPolicy, PolicyStats } from './bandit.js';
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
    select(candidates, context) {
      if (candidates.length === 0) throw new RangeError('select needs at least one candidate');
      const penaltyOf = stats.penalties();
      const arms = candidates.map((id) => {
        const p = stats.posterior(id, context);
        return { id, mean: p.alpha / (p.alpha + p.beta), count: p.alpha + p.beta, penalty: penaltyOf(id, context) };
      });
      const total = arms.reduce((sum, a) => sum + a.count, 0);
      const logTotal = Math.log(Math.max(Math.E, total));
      let best = arms[0]!;
      let bestValue = -Infinity;
      for (const arm of arms) {
        const value = arm.mean + options.exploration * Math.sqrt((2 * logTotal) / arm.count) - arm.penalty;
        // Random tie-breaking: equal scores (e.g. at the start) must not always favour the first arm.
        if (value > bestValue || (value === bestValue && rng() < 0.5)) {
          bestValue = value;
          best = arm;
        }
      }
      return best.id;
    },
  };
}
