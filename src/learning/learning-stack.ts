import type { PerformanceAnalyzer } from '../analyzer/performance-analyzer.js';
import type { ArmConfig, BanditConfig } from '../config/schema.js';
import type { ContextualStats } from '../router/bandit.js';
import { createStats } from '../router/create-policy.js';
import type { RewardCalculator } from '../router/reward-calculator.js';
import type { EventLog } from './event-log.js';
import { createLearning, type Learning } from './learning.js';
import { createLearningRules } from './learning-rules.js';
import { createLearningState, type LearningState } from './learning-state.js';

/** The learning parts wired together: statistics, the state that events build, the log, the door. */
export interface LearningStack {
  readonly stats: ContextualStats;
  readonly state: LearningState;
  readonly learning: Learning;
  readonly log: EventLog;
}

export interface LearningStackDeps {
  readonly bandit: BanditConfig;
  readonly arms: readonly ArmConfig[];
  readonly reward: RewardCalculator;
  readonly analyzer: Pick<PerformanceAnalyzer, 'record' | 'recordReward'>;
  readonly instanceId: string;
  /** The event log over the state (embedded or Redis). */
  readonly log: (state: LearningState) => EventLog;
}

export function createLearningStack(deps: LearningStackDeps): LearningStack {
  const stats = createStats(deps.bandit, deps.reward, deps.arms);
  const rules = createLearningRules(deps.reward);
  const state = createLearningState({ stats, rules, arms: deps.arms, maxContexts: deps.bandit.maxContexts });
  const log = deps.log(state);
  const learning = createLearning({
    state,
    rules,
    log,
    stats,
    reward: deps.reward,
    analyzer: deps.analyzer,
    instanceId: deps.instanceId,
  });
  return { stats, state, learning, log };
}
