import type { BanditConfig } from '../config/schema.js';
import { createContextualStats, type ContextualStats, type BanditPolicy, type PolicyStats } from './bandit.js';
import { createEpsilonGreedyPolicy } from './epsilon-greedy-policy.js';
import type { Rng } from './random.js';
import type { RewardCalculator } from './reward-calculator.js';
import { createThompsonPolicy } from './thompson-policy.js';
import { createUcb1Policy } from './ucb1-policy.js';

/** Contextual, decaying statistics as `config` describes them, scored by `reward`. */
export function createStats(config: BanditConfig, reward: Pick<RewardCalculator, 'penalty'>): ContextualStats {
  return createContextualStats({
    prior: config.prior,
    hierarchyStrength: config.hierarchyStrength,
    halfLife: config.halfLife,
    recentHalfLife: config.sharpenHalfLife ?? config.halfLife / 8,
    mixture: config.mixture,
    penalty: reward.penalty,
  });
}

/** The policy named by `config.policy`, reading `stats`. */
export function createPolicy(config: BanditConfig, rng: Rng, stats: PolicyStats): BanditPolicy {
  switch (config.policy) {
    case 'thompson':
      return createThompsonPolicy(rng, stats, { concentration: config.sampleConcentration });
    case 'ucb1':
      return createUcb1Policy(rng, stats, { exploration: config.ucbExploration });
    case 'egreedy':
      return createEpsilonGreedyPolicy(rng, stats, { epsilon: config.epsilon });
  }
}
