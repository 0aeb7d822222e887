import type { BanditPolicy, PolicyStats } from './bandit.js';
import type { DecisionTrace } from './route-explanation.js';
import type { Rng } from './random.js';

export interface EpsilonGreedyOptions {
  /** Probability of routing uniformly at random instead of greedily. */
  readonly epsilon: number;
}

/**
 * Epsilon-greedy: with probability epsilon a uniformly random candidate, otherwise the one with
 * the highest posterior mean utility. A fixed epsilon keeps exploring forever, so its regret
 * grows linearly; it is here as a baseline.
 */
export function createEpsilonGreedyPolicy(rng: Rng, stats: PolicyStats, options: EpsilonGreedyOptions): BanditPolicy {
  return {
    name: 'egreedy',
    select(candidates, context, penaltyOf, trace?: DecisionTrace) {
      if (candidates.length === 0) throw new RangeError('select needs at least one candidate');
      if (rng() < options.epsilon) return candidates[Math.floor(rng() * candidates.length)]!;
      let best = candidates[0]!;
      let bestValue = -Infinity;
      for (let i = 0; i < candidates.length; i++) {
        const id = candidates[i]!;
        const arm = stats.read(id, context);
        const mean = arm.alpha / (arm.alpha + arm.beta);
        const penalty = penaltyOf ? penaltyOf(id) : arm.penalty;
        const value = mean - penalty;
        if (trace) trace.scored(id, arm.alpha, arm.beta, mean, penalty);
        if (value > bestValue || (value === bestValue && rng() < 0.5)) {
          bestValue = value;
          best = id;
        }
      }
      return best;
    },
  };
}
