import type { SwitchyardConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { createAdaptiveRouter } from './adaptive-router.js';
import { createContextClassifier } from './context-classifier.js';
import { createPolicy } from './create-policy.js';
import { createLearnedStateStore } from './learned-state-store.js';
import { createRng } from './random.js';
import { createRewardCalculator } from './reward-calculator.js';
import { applyWarmStart, createArmResolver, WarmStartError, type LoggedRow, type WarmStartSummary } from './warm-start.js';

/**
 * Offline warm start (`npm run warm-start`): the saved state the server loads at start-up is read,
 * taught the logged rows, and written back, through the same router, policy and store the server
 * builds from the configuration. Run it while the server is stopped: a running server saves its
 * own state on shutdown (the `warmStart` mutation teaches a running one).
 */
export function warmStartStateFile(
  config: SwitchyardConfig,
  rows: readonly LoggedRow[],
  logger: Logger,
  /** Overrides router.warmStart.weight. */
  weight = config.router.warmStart.weight,
): WarmStartSummary & { readonly stateFile: string; readonly contexts: number } {
  const stateFile = config.router.stateFile;
  if (!stateFile) {
    throw new WarmStartError('WARM_START_NO_STATE_FILE', 'router.stateFile is not set: warm start teaches the state the server loads from it');
  }
  const reward = createRewardCalculator(config.reward);
  const policy = createPolicy(config.bandit, createRng(config.bandit.seed), reward);
  const store = createLearnedStateStore({
    path: stateFile,
    intervalMs: config.router.stateSaveIntervalMs,
    policy,
    armIds: new Set(config.arms.map((arm) => arm.id)),
    logger,
  });
  store.load();
  const router = createAdaptiveRouter({
    arms: config.arms,
    policy,
    reward,
    classify: createContextClassifier(config.bandit.classifier),
    confidenceDraws: config.bandit.confidenceDraws,
    maxContexts: config.bandit.maxContexts,
  });
  const summary = applyWarmStart(router, rows, {
    weight,
    resolve: createArmResolver(config.arms, config.models, config.router.warmStart.models),
  });
  store.save();
  return { ...summary, stateFile, contexts: router.contexts().length };
}
