import type { SwitchyardConfig } from '../config/schema.js';
import { createAdaptiveRouter } from '../router/adaptive-router.js';
import { createContextClassifier } from '../router/context-classifier.js';
import { createPolicy } from '../router/create-policy.js';
import { createRng } from '../router/random.js';
import { createRewardCalculator, type RouteMetrics } from '../router/reward-calculator.js';
import type { ReplayOutcome, ReplayRow } from './replay-file.js';

/**
 * Streams logged outcomes through the router's own parts — adaptive router, policy, reward
 * calculator and classifier built from the server's configuration — with one arm per model of the
 * file. For each row, in order, the router picks an arm by context among the models the row has an
 * outcome for, records that outcome's cost and latency, and receives its quality as feedback.
 */

export interface ReplayOptions {
  /** A validated configuration: its `reward` and `bandit` sections drive the router; its arms are replaced. */
  readonly config: SwitchyardConfig;
  /** False hides the tags, so contexts come from the prompt classifier. */
  readonly useTags: boolean;
  /** Seeds the router's random numbers. */
  readonly seed: number;
  /** Called after each row, e.g. to trace learning curves. */
  readonly onRow?: (row: ReplayRow, model: string, context: string) => void;
}

export interface ReplayFigures {
  readonly quality: number;
  readonly costPerQuery: number;
}

export interface ReplayReport extends ReplayFigures {
  readonly n: number;
  readonly policy: string;
  /** Share of requests routed to each model. */
  readonly shares: Record<string, number>;
  readonly contexts: number;
  /** The model with the highest mean quality over the rows it has outcomes for. */
  readonly bestSingle: ReplayFigures & { readonly model: string };
  /** Expected figures of a uniformly random choice among each row's models. */
  readonly random: ReplayFigures;
  /** Per row, the best quality (the cheapest model among equals). */
  readonly oracle: ReplayFigures;
}

export function modelsOf(rows: readonly ReplayRow[]): string[] {
  const models = new Set<string>();
  for (const row of rows) for (const model of row.outcomes.keys()) models.add(model);
  return [...models];
}

const mean = (values: readonly number[]) => (values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length);

function baselines(rows: readonly ReplayRow[], models: readonly string[]) {
  const bestSingle = models
    .map((model) => {
      const outcomes = rows.map((r) => r.outcomes.get(model)).filter((o): o is ReplayOutcome => o !== undefined);
      return {
        model,
        quality: mean(outcomes.map((o) => o.quality)),
        costPerQuery: mean(outcomes.map((o) => o.costUsd)),
      };
    })
    .reduce((best, m) => (m.quality > best.quality || (m.quality === best.quality && m.costPerQuery < best.costPerQuery) ? m : best));
  const random = {
    quality: mean(rows.map((r) => mean([...r.outcomes.values()].map((o) => o.quality)))),
    costPerQuery: mean(rows.map((r) => mean([...r.outcomes.values()].map((o) => o.costUsd)))),
  };
  const oracleChoices = rows.map((r) =>
    [...r.outcomes.values()].reduce((best, o) =>
      o.quality > best.quality || (o.quality === best.quality && o.costUsd < best.costUsd) ? o : best,
    ),
  );
  const oracle = {
    quality: mean(oracleChoices.map((o) => o.quality)),
    costPerQuery: mean(oracleChoices.map((o) => o.costUsd)),
  };
  return { bestSingle, random, oracle };
}

export function runReplay(rows: readonly ReplayRow[], options: ReplayOptions): ReplayReport {
  if (rows.length === 0) throw new RangeError('a replay needs at least one row');
  const { config } = options;
  const models = modelsOf(rows);
  const reward = createRewardCalculator(config.reward);
  const policy = createPolicy(config.bandit, createRng(options.seed), reward);
  let current: ReplayRow = rows[0]!;
  const router = createAdaptiveRouter({
    // Model names may hold characters arm ids from a config file may not ('/'): these arms never
    // pass through the config schema.
    arms: models.map((model) => ({ id: model, model, enabled: true })),
    policy,
    reward,
    classify: createContextClassifier(config.bandit.classifier),
    maxContexts: config.bandit.maxContexts,
    // A row without an outcome for a model is as if that model were down for the request.
    isModelAvailable: (model) => current.outcomes.has(model),
  });

  const routed = new Map<string, number>(models.map((m) => [m, 0]));
  let qualitySum = 0;
  let costSum = 0;
  for (const row of rows) {
    current = row;
    const decision = router.route({
      messages: [{ role: 'user', content: row.prompt }],
      tags: options.useTags ? row.tags : undefined,
    });
    const outcome = row.outcomes.get(decision.modelId);
    if (!outcome) throw new Error(`router chose "${decision.modelId}", which row ${row.id} has no outcome for`);
    router.recordAttempt(decision);
    const metrics: RouteMetrics = {
      latencyMs: outcome.latencyMs,
      ttftMs: null,
      promptTokens: 0,
      completionTokens: 0,
      costUsd: outcome.costUsd,
      error: false,
      cached: false,
    };
    router.recordOutcome(decision, metrics);
    router.applyFeedback(decision, outcome.quality, null);
    routed.set(decision.modelId, routed.get(decision.modelId)! + 1);
    qualitySum += outcome.quality;
    costSum += outcome.costUsd;
    options.onRow?.(row, decision.modelId, decision.context);
  }

  return {
    n: rows.length,
    policy: policy.name,
    quality: qualitySum / rows.length,
    costPerQuery: costSum / rows.length,
    shares: Object.fromEntries(models.map((m) => [m, routed.get(m)! / rows.length])),
    contexts: router.contexts().length,
    ...baselines(rows, models),
  };
}
