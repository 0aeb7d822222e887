import { randomUUID } from 'node:crypto';
import type { PerformanceAnalyzer } from '../analyzer/performance-analyzer.js';
import type { ContextualStats } from '../router/bandit.js';
import type { RewardCalculator } from '../router/reward-calculator.js';
import type { EventLog } from './event-log.js';
import type { LearningEvent, LearningEventBody } from './learning-events.js';
import type { LearningRules } from './learning-rules.js';
import type { LearningState, OperatorView } from './learning-state.js';
import { withFields } from '../with-fields.js';

/**
 * The door every observation goes through: it becomes an event, the analyzer of this instance
 * records its lessons at once, and the event log applies its lessons for the statistics (here, and
 * with a shared log on every replica).
 */
export interface Learning {
  /** Records what this instance observed; resolves once its lessons are applied to this instance's state. */
  observe(body: LearningEventBody): Promise<void>;
  readonly operator: OperatorView;
  readonly state: LearningState;
  readonly log: EventLog;
}

export interface LearningDeps {
  readonly state: LearningState;
  readonly rules: LearningRules;
  readonly log: EventLog;
  readonly stats: Pick<ContextualStats, 'reference'>;
  readonly reward: Pick<RewardCalculator, 'requestReward'>;
  readonly analyzer: Pick<PerformanceAnalyzer, 'record' | 'recordReward'>;
  /** Names this instance in the events it observes. */
  readonly instanceId: string;
  readonly newId?: () => string;
}

export function createLearning(deps: LearningDeps): Learning {
  const { rules, log, analyzer, instanceId } = deps;
  const newId = deps.newId ?? randomUUID;
  return {
    observe(body) {
      const event = withFields(body, { id: newId(), origin: instanceId, at: Date.now() }) as LearningEvent;
      for (const lesson of rules(body).analyzer) {
        if (lesson.kind === 'sample') analyzer.record(lesson.sample);
        else {
          const { verdict } = lesson;
          const value = deps.reward.requestReward(
            { costUsd: verdict.costUsd, latencyMs: verdict.latencyMs, error: false },
            verdict.score,
            deps.stats.reference(),
          );
          analyzer.recordReward(verdict.armId, verdict.context, value);
        }
      }
      return log.append(event);
    },
    operator: deps.state,
    state: deps.state,
    log,
  };
}
