import { sharedPolicyMethods, type BanditPolicy, type ContextualStats } from './bandit.js';
import { sampleBeta, type Rng } from './random.js';

/**
 * Thompson sampling: draw a quality from each candidate's posterior, subtract its operational
 * penalty, route to the highest. Each arm is chosen with the posterior probability that it is
 * the best, so exploration fades exactly as fast as the evidence allows.
 */
export function createThompsonPolicy(rng: Rng, stats: ContextualStats): BanditPolicy {
  return {
    name: 'thompson',
    select(candidates, context) {
      if (candidates.length === 0) throw new RangeError('select needs at least one candidate');
      const penaltyOf = stats.penalties();
      let best = candidates[0]!;
      let bestValue = -Infinity;
      for (const id of candidates) {
        const p = stats.posterior(id, context);
        const value = sampleBeta(rng, p.alpha, p.beta) - penaltyOf(id, context);
        if (value > bestValue) {
          bestValue = value;
          best = id;
        }
      }
      return best;
    },
    ...sharedPolicyMethods(rng, stats),
  };
}
