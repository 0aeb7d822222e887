import type { BanditPolicy, PolicyStats } from './bandit.js';
import type { DecisionTrace } from './route-explanation.js';
import { sampleBeta, type Rng } from './random.js';

export interface ThompsonOptions {
  /**
   * Draws come from the posterior with each recent observation counted k times (older evidence
   * once, the prior not sharpened; see ContextualStats.posterior). k = 1 is textbook Thompson sampling.
   */
  readonly concentration: number;
  /**
   * Own evidence in the context (decayed quality observations) below which a candidate is explored
   * before any other; among several such, the highest draw. 0 = none.
   */
  readonly floor?: number | undefined;
}

/**
 * Thompson sampling: draw a quality from each candidate's posterior, subtract its operational
 * penalty, route to the highest. Each arm is chosen with the (sharpened, for k > 1) posterior
 * probability that it is the best, so exploration fades as the evidence accumulates.
 *
 * Why sharpen: exact posterior sampling is tuned for regret that keeps growing with the horizon;
 * a router meets each context for a few hundred or thousand requests among many arms whose
 * utilities differ by a few hundredths, and spends most of that horizon hedging between them.
 * Sharpening (Chapelle & Li, "An Empirical Evaluation of Thompson Sampling", 2011, found the
 * same with a reduced posterior variance) commits earlier; the price is a small risk of settling
 * on a near-best arm, which later evidence still corrects because draws stay random. Only recent
 * evidence is sharpened and the prior is left wide, so an arm unused for long is explored as under
 * exact sampling and forgetting still brings it back (the drift bounds in docs/learning.md).
 */
export function createThompsonPolicy(rng: Rng, stats: PolicyStats, options: ThompsonOptions): BanditPolicy {
  const k = options.concentration;
  const floor = options.floor ?? 0;
  return {
    name: 'thompson',
    select(candidates, context, penaltyOf, trace?: DecisionTrace) {
      if (candidates.length === 0) throw new RangeError('select needs at least one candidate');
      let best = candidates[0]!;
      let bestValue = -Infinity;
      // Whether `best` is below the floor: such a candidate goes before every other.
      let bestUnder = false;
      for (let i = 0; i < candidates.length; i++) {
        const id = candidates[i]!;
        const arm = stats.read(id, context, k);
        const under = arm.evidence < floor;
        const quality = sampleBeta(rng, arm.alpha, arm.beta);
        const penalty = penaltyOf ? penaltyOf(id) : arm.penalty;
        const value = quality - penalty;
        if (trace) trace.scored(id, arm.alpha, arm.beta, quality, penalty);
        if (under === bestUnder ? value > bestValue : under) {
          bestValue = value;
          best = id;
          bestUnder = under;
        }
      }
      return best;
    },
  };
}
