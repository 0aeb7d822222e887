import { CodedError } from '../coded-error.js';
import type { ArmConfig, ModelConfig } from '../config/schema.js';
import type { AdaptiveRouter, LoggedOutcome } from './adaptive-router.js';

/**
 * Warm start: outcomes logged before the router served (eval runs, past logs, a leaderboard's
 * per-prompt results) become evidence per arm and context, as if each had been a live feedback
 * score counted `weight` times. A weight below 1 lets live evidence take over sooner; the evidence
 * decays with live traffic like any other, so the log fades as the router meets its own traffic.
 *
 * Rows are checked and mapped to arms before any is applied: a batch is applied whole or not at all.
 */

export type WarmStartErrorCode =
  | 'WARM_START_INVALID_ROW'
  | 'WARM_START_TOO_MANY_ROWS'
  | 'WARM_START_INVALID_WEIGHT'
  | 'WARM_START_NO_STATE_FILE';

export class WarmStartError extends CodedError<WarmStartErrorCode> {
  override readonly name = 'WarmStartError';
}

export interface LoggedRow {
  readonly prompt: string;
  readonly tags: readonly string[];
  readonly outcomes: ReadonlyMap<string, LoggedOutcome>;
}

export interface WarmStartSummary {
  readonly rows: number;
  /** Logged outcomes applied (one per row and arm). */
  readonly outcomes: number;
  /** Logged model names no arm answers to; their outcomes were skipped. */
  readonly unmatchedModels: readonly string[];
}

/** The arms a logged model name teaches: none when the name is not served. */
export type ArmResolver = (loggedModel: string) => readonly string[];

/**
 * Resolves a logged name, first match wins: the config's explicit mapping, an arm with that id,
 * the arms of the model with that id, the arms of the models that call the provider's model by
 * that name (an OpenAI model configured with `model: "gpt-4o"` answers to "gpt-4o" in a log).
 */
export function createArmResolver(
  arms: readonly Pick<ArmConfig, 'id' | 'model'>[],
  models: readonly ModelConfig[],
  explicit: Readonly<Record<string, string>>,
): ArmResolver {
  const armIds = new Set(arms.map((a) => a.id));
  const armsOfModel = (modelId: string) => arms.filter((a) => a.model === modelId).map((a) => a.id);
  return (name) => {
    const mapped = explicit[name];
    if (mapped !== undefined) return armIds.has(mapped) ? [mapped] : [];
    if (armIds.has(name)) return [name];
    const byModelId = armsOfModel(name);
    if (byModelId.length > 0) return byModelId;
    return models.filter((m) => m.provider !== 'simulated' && m.model === name).flatMap((m) => armsOfModel(m.id));
  };
}

const isFiniteIn = (value: unknown, low: number, high: number) =>
  typeof value === 'number' && Number.isFinite(value) && value >= low && value <= high;

/** Why a row cannot be applied, or null. */
function rowProblem(row: LoggedRow): string | null {
  if (typeof row.prompt !== 'string') return 'prompt must be a string';
  if (!Array.isArray(row.tags) || row.tags.some((t) => typeof t !== 'string')) return 'tags must be strings';
  if (row.outcomes.size === 0) return 'outcomes must name at least one model';
  for (const [model, o] of row.outcomes) {
    if (!isFiniteIn(o.quality, 0, 1)) return `quality of "${model}" must be a number in [0, 1]`;
    if (o.costUsd !== undefined && !isFiniteIn(o.costUsd, 0, Infinity)) return `costUsd of "${model}" must be a non-negative number`;
    if (o.latencyMs !== undefined && !isFiniteIn(o.latencyMs, 0, Infinity)) {
      return `latencyMs of "${model}" must be a non-negative number`;
    }
  }
  return null;
}

export interface WarmStartOptions {
  /** Live feedback scores one logged outcome is worth (> 0). */
  readonly weight: number;
  readonly resolve: ArmResolver;
  /** Most rows one call may apply (bounds the work of one admin request); unset = no bound. */
  readonly maxRows?: number;
}

/** Checks every row, then teaches the router all of them; throws WarmStartError before applying anything. */
export function applyWarmStart(router: AdaptiveRouter, rows: readonly LoggedRow[], options: WarmStartOptions): WarmStartSummary {
  if (!(Number.isFinite(options.weight) && options.weight > 0)) {
    throw new WarmStartError('WARM_START_INVALID_WEIGHT', `weight must be a positive number, got ${options.weight}`);
  }
  if (options.maxRows !== undefined && rows.length > options.maxRows) {
    throw new WarmStartError(
      'WARM_START_TOO_MANY_ROWS',
      `at most ${options.maxRows} rows per call, got ${rows.length}: send the log in batches`,
      { maxRows: options.maxRows },
    );
  }
  rows.forEach((row, index) => {
    const problem = rowProblem(row);
    if (problem) throw new WarmStartError('WARM_START_INVALID_ROW', `row ${index}: ${problem}`, { row: index });
  });
  const unmatched = new Set<string>();
  let outcomes = 0;
  for (const row of rows) {
    const request = { messages: [{ role: 'user' as const, content: row.prompt }], tags: row.tags };
    for (const [model, outcome] of row.outcomes) {
      const armIds = options.resolve(model);
      if (armIds.length === 0) unmatched.add(model);
      for (const armId of armIds) {
        router.recordLogged(armId, request, outcome, options.weight);
        outcomes++;
      }
    }
  }
  return { rows: rows.length, outcomes, unmatchedModels: [...unmatched].sort() };
}
