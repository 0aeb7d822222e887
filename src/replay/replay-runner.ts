import type { SwitchyardConfig } from '../config/schema.js';
import { createAdaptiveRouter } from '../router/adaptive-router.js';
import { createContextClassifier } from '../router/context-classifier.js';
import { createPolicy } from '../router/create-policy.js';
import { createRng } from '../router/random.js';
import { createRewardCalculator } from '../router/reward-calculator.js';
import { createLocalEventLog } from '../learning/local-event-log.js';
import { createLearningStack } from '../learning/learning-stack.js';
import { createLogger } from '../logger.js';
import { warmStartEvent, type LoggedRow } from '../learning/warm-start.js';
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
  /**
   * Logged outcomes taught before the stream (warm start), each worth `weight` live feedback
   * scores; their models become arms too.
   */
  readonly warmStart?: { readonly rows: readonly ReplayRow[]; readonly weight: number } | undefined;
  /** Rows per point of the learning curve (default 100). */
  readonly curveEvery?: number | undefined;
  /** Called after each row. */
  readonly onRow?: (row: ReplayRow, model: string, context: string) => void;
}

/** One window of the stream: the router's mean quality and cost per query over its rows. */
export interface CurvePoint extends ReplayFigures {
  /** Rows of the stream up to the end of this window. */
  readonly rows: number;
  /** The best single model's figures over the same window (windows differ in difficulty and price). */
  readonly bestSingle: ReplayFigures;
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
  /** The router's quality and cost as shares of the best single model's (cost null when that model is free). */
  readonly relative: { readonly quality: number; readonly cost: number | null };
  /** Quality and cost per window of `curveEvery` rows (the last window may be shorter). */
  readonly curve: readonly CurvePoint[];
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

/** A replay row as a warm-start row: a cost and latency both 0 are what the file left out. */
export function loggedRow(row: ReplayRow, useTags = true): LoggedRow {
  const outcomes = new Map(
    [...row.outcomes].map(([model, o]) => [
      model,
      o.costUsd > 0 || o.latencyMs > 0 ? o : { quality: o.quality },
    ]),
  );
  return { prompt: row.prompt, tags: useTags ? row.tags : [], outcomes };
}

export function runReplay(rows: readonly ReplayRow[], options: ReplayOptions): ReplayReport {
  if (rows.length === 0) throw new RangeError('a replay needs at least one row');
  const { config } = options;
  const models = modelsOf(options.warmStart ? [...options.warmStart.rows, ...rows] : rows);
  const curveEvery = options.curveEvery ?? 100;
  if (!(Number.isInteger(curveEvery) && curveEvery > 0)) throw new RangeError('curveEvery must be a positive integer');
  const reward = createRewardCalculator(config.reward);
  const rng = createRng(options.seed);
  // Model names may hold characters arm ids from a config file may not ('/'): these arms never
  // pass through the config schema.
  const arms = models.map((model) => ({ id: model, model, enabled: true }));
  const { stats, learning } = createLearningStack({
    bandit: config.bandit,
    arms,
    reward,
    analyzer: { record: () => undefined, recordReward: () => undefined },
    instanceId: 'replay',
    log: (state) => createLocalEventLog({ state, logger: createLogger('silent') }),
  });
  const policy = createPolicy(config.bandit, rng, stats);
  const classify = createContextClassifier(config.bandit.classifier);
  let current: ReplayRow = rows[0]!;
  const router = createAdaptiveRouter({
    arms,
    policy,
    stats,
    learning,
    rng,
    reward,
    classify,
    maxContexts: config.bandit.maxContexts,
    // A row without an outcome for a model is as if that model were down for the request.
    isModelAvailable: (model) => current.outcomes.has(model),
  });

  if (options.warmStart) {
    const { event } = warmStartEvent(options.warmStart.rows.map((row) => loggedRow(row, options.useTags)), {
      weight: options.warmStart.weight,
      resolve: (model) => [model],
      classify,
    });
    // The embedded log applies the event before observe returns.
    void learning.observe(event);
  }

  const base = baselines(rows, modelsOf(rows));
  const routed = new Map<string, number>(models.map((m) => [m, 0]));
  const curve: CurvePoint[] = [];
  // Over the window's rows that have an outcome of the best single model.
  let windowBest = { quality: 0, costUsd: 0, rows: 0 };
  let qualitySum = 0;
  let costSum = 0;
  let windowQuality = 0;
  let windowCost = 0;
  let windowRows = 0;
  for (const row of rows) {

    current = row;
    const decision = router.route({
      messages: [{ role: 'user', content: row.prompt }],
      tags: options.useTags ? row.tags : undefined,
    });
    const outcome = row.outcomes.get(decision.modelId);
    if (!outcome) throw new Error(`router chose "${decision.modelId}", which row ${row.id} has no outcome for`);
    const requestId = row.id;
    const { armId, modelId, context } = decision;
    // The embedded log applies each event before observe returns: the next row routes on it.
    void learning.observe({ type: 'pull', requestId, armId, context });
    void learning.observe({
      type: 'outcome',
      kind: 'primary',
      requestId,
      armId,
      modelId,
      context,
      latencyMs: outcome.latencyMs,
      ttftMs: null,
      promptTokens: 0,
      completionTokens: 0,
      costUsd: outcome.costUsd,
      error: false,
    });
    void learning.observe({
      type: 'judgement',
      kind: 'feedback',
      requestId,
      client: null,
      shared: false,
      verdicts: [{ armId, context, score: outcome.quality, previous: null, costUsd: outcome.costUsd, latencyMs: outcome.latencyMs }],
    });
    routed.set(decision.modelId, routed.get(decision.modelId)! + 1);
    qualitySum += outcome.quality;
    costSum += outcome.costUsd;
    windowQuality += outcome.quality;
    windowCost += outcome.costUsd;
    windowRows++;
    const best = row.outcomes.get(base.bestSingle.model);
    if (best) windowBest = { quality: windowBest.quality + best.quality, costUsd: windowBest.costUsd + best.costUsd, rows: windowBest.rows + 1 };
    if (windowRows === curveEvery || curve.length * curveEvery + windowRows === rows.length) {
      curve.push({
        rows: curve.length * curveEvery + windowRows,
        quality: windowQuality / windowRows,
        costPerQuery: windowCost / windowRows,
        bestSingle: {
          quality: windowBest.rows > 0 ? windowBest.quality / windowBest.rows : 0,
          costPerQuery: windowBest.rows > 0 ? windowBest.costUsd / windowBest.rows : 0,
        },
      });
      windowQuality = windowCost = windowRows = 0;
      windowBest = { quality: 0, costUsd: 0, rows: 0 };
    }
    options.onRow?.(row, decision.modelId, decision.context);
  }
  const quality = qualitySum / rows.length;
  const costPerQuery = costSum / rows.length;


  return {
    n: rows.length,
    policy: policy.name,
    quality,
    costPerQuery,
    shares: Object.fromEntries(models.map((m) => [m, routed.get(m)! / rows.length])),
    contexts: router.contexts().length,
    ...base,
    relative: {
      quality: base.bestSingle.quality > 0 ? quality / base.bestSingle.quality : 0,
      cost: base.bestSingle.costPerQuery > 0 ? costPerQuery / base.bestSingle.costPerQuery : null,
    },
    curve,
  };
}
