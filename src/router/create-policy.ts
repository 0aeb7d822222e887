import type { ArmConfig, BanditConfig } from '../config/schema.js';
import {
  CONTEXT_SEPARATOR,
  createContextualStats,
  GLOBAL_CONTEXT,
  type BanditPolicy,
  type ContextualStats,
  type PolicyStats,
  type Posterior,
} from './bandit.js';
import { createEpsilonGreedyPolicy } from './epsilon-greedy-policy.js';
import { createForgettingMixture, createMixturePolicy, type ForgettingMixture } from './forgetting-mixture.js';
import type { Rng } from './random.js';
import type { RewardCalculator } from './reward-calculator.js';
import { createThompsonPolicy } from './thompson-policy.js';
import { createUcb1Policy } from './ucb1-policy.js';

/** Per arm and context path, the configured prior as a Beta: strength · mean successes, strength · (1 - mean) failures. */
export function armPriorsOf(arms: readonly Pick<ArmConfig, 'id' | 'priors'>[]): Map<string, Map<string, Posterior>> {
  const priors = new Map<string, Map<string, Posterior>>();
  for (const arm of arms) {
    if (!arm.priors || arm.priors.length === 0) continue;
    priors.set(
      arm.id,
      new Map(
        arm.priors.map((p) => [
          // Written as tags are (trimmed, lower-cased), so "Code/Python" names the context ["code", "python"] routes in.
          p.context === GLOBAL_CONTEXT ? p.context : p.context.split(CONTEXT_SEPARATOR).map((t) => t.trim().toLowerCase()).join(CONTEXT_SEPARATOR),
          { alpha: p.strength * p.mean, beta: p.strength * (1 - p.mean) },
        ]),
      ),
    );
  }
  return priors;
}

/** Contextual, decaying statistics as `config` describes them, scored by `reward`; `arms` bring their priors. */
export function createStats(
  config: BanditConfig,
  reward: Pick<RewardCalculator, 'penalty'>,
  arms: readonly Pick<ArmConfig, 'id' | 'priors'>[] = [],
): ContextualStats & { readonly mixture?: ForgettingMixture } {
  const long = createContextualStats({
    armPriors: arms.some((arm) => arm.priors && arm.priors.length > 0) ? armPriorsOf(arms) : undefined,
    prior: config.prior,
    hierarchyStrength: config.hierarchyStrength,
    halfLife: config.halfLife,
    recentHalfLife: config.sharpenHalfLife ?? config.halfLife / 8,
    penalty: reward.penalty,
  });
  const options = config.mixture;
  if (!options || options.halfLives.length === 0 || config.policy !== 'thompson') return long;
  const mixture = createForgettingMixture(long, { ...options, longHalfLife: config.halfLife });
  return {
    ...long,
    mixture,
    update(armId, context, reward, weight) {
      // Scored on the long memory's mean before the reward is added to it.
      mixture.observe(armId, context, reward, weight);
      long.update(armId, context, reward, weight);
    },
    restore(state, armIds) {
      long.restore(state, armIds);
      mixture.reset();
    },
  };
}

/** The policy named by `config.policy`, reading `stats`. */
export function createPolicy(config: BanditConfig, rng: Rng, stats: PolicyStats & { readonly mixture?: ForgettingMixture }): BanditPolicy {
  switch (config.policy) {
    case 'thompson': {
      const floor = config.explorationFloor;
      const knowledgeGradient = config.knowledgeGradient;
      // Information-directed sampling ranks by the long memory only; the short memories keep their
      // Thompson draws: a short memory is drawn to find out whether an arm has changed, and IDS, which
      // trusts a confident posterior, explores a seemingly settled arm too rarely for that
      // (rotating stream 93.4% of the best memory with IDS in every memory, 96.8% this way; docs/learning.md).
      const informationDirected = config.informationDirected;
      const thompson = createThompsonPolicy(rng, stats, { concentration: config.sampleConcentration, floor, knowledgeGradient, informationDirected });
      const { mixture } = stats;
      if (!mixture) return thompson;
      const shorts = Array.from({ length: mixture.size - 1 }, (_, j) => createThompsonPolicy(rng, mixture.view(j + 1), { concentration: config.mixture.concentration, floor, knowledgeGradient }));
      return createMixturePolicy(rng, mixture, [thompson, ...shorts]);
    }
    case 'ucb1':
      return createUcb1Policy(rng, stats, { exploration: config.ucbExploration });
    case 'egreedy':
      return createEpsilonGreedyPolicy(rng, stats, { epsilon: config.epsilon });
  }
}
