import type { BanditConfig } from '../config/schema.js';
import { createContextualStats, type BanditPolicy } from './bandit.js';
import { createEpsilonGreedyPolicy } from './epsilon-greedy-policy.js';
import type { Rng } from './random.js';
import type { RewardCalculator } from './reward-calculator.js';
import { createThompsonPolicy } from './thompson-policy.js';
import { createUcb1Policy } from './ucb1-policy.js';

/** The policy named by `config.policy`, over contextual, decaying statistics scored by `reward`. */
export function createPolicy(
  config: BanditConfig,
  rng: Rng,
  reward: RewardCalculator,
): BanditPolicy {
  const stats = createContextualStats({
    prior: config.prior,
    hierarchyStrength: config.hierarchyStrength,
    halfLife: config.halfLife,
    recentHalfLife: config.sharpenHalfLife ?? config.halfLife / 8,
    penalty: reward.penalty,
  });
  switch (config.policy) {
    case 'thompson':
      return createThompsonPolicy(rng, stats, { concentration: config.sampleConcentration });
    case 'ucb1':
      return createUcb1Policy(rng, stats, { exploration: config.ucbExploration });
    case 'egreedy':
      return createEpsilonGreedyPolicy(rng, stats, { epsilon: config.epsilon });
  }
}
