import type { SwitchyardConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { createContextClassifier } from '../router/context-classifier.js';
import { createRewardCalculator } from '../router/reward-calculator.js';
import { createLearningStack } from './learning-stack.js';
import { createLocalEventLog } from './local-event-log.js';
import { createArmResolver, warmStartEvent, WarmStartError, type LoggedRow, type WarmStartSummary } from './warm-start.js';

/**
 * Offline warm start (`npm run warm-start`): the state file the server loads at start-up is read,
 * taught the logged rows as events, and written back, by the same learning parts the server builds
 * from the configuration. Every row is checked before the first is learnt. Run it while the server
 * is stopped: a running server saves its own state on shutdown (the `warmStart` mutation teaches a
 * running one).
 */
export async function warmStartStateFile(
  config: SwitchyardConfig,
  rows: readonly LoggedRow[],
  logger: Logger,
  /** Overrides router.warmStart.weight. */
  weight = config.router.warmStart.weight,
): Promise<WarmStartSummary & { readonly stateFile: string; readonly contexts: number }> {
  const stateFile = config.router.stateFile;
  if (!stateFile) {
    throw new WarmStartError('WARM_START_NO_STATE_FILE', 'router.stateFile is not set: warm start teaches the state the server loads from it');
  }
  const reward = createRewardCalculator(config.reward);
  const { stats, learning, log } = createLearningStack({
    bandit: config.bandit,
    arms: config.arms,
    reward,
    analyzer: { record: () => undefined, recordReward: () => undefined },
    instanceId: 'warm-start',
    log: (state) => createLocalEventLog({ state, stateFile: { path: stateFile, intervalMs: config.router.stateSaveIntervalMs }, logger }),
  });
  const { event, summary } = warmStartEvent(rows, {
    weight,
    resolve: createArmResolver(config.arms, config.models, config.router.warmStart.models),
    classify: createContextClassifier(config.bandit.classifier),
  });
  if (event.rows.length > 0) await learning.observe(event);
  await log.stop();
  return { ...summary, stateFile, contexts: stats.contexts().length };
}
