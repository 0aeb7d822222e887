import { CodedError } from '../coded-error.js';
import type { ArmConfig, ModelConfig } from '../config/schema.js';
import type { ContextClassifier } from '../router/context-classifier.js';
import type { LoggedEvent, LoggedOutcome } from './learning-events.js';
import type { Learning } from './learning.js';

/**
 * Warm start: outcomes logged before the router served (eval runs, past logs, a leaderboard's
 * per-prompt results) become evidence per arm and context, as if each had been a live feedback
 * score counted `weight` times. A weight below 1 lets live evidence take over sooner; the evidence
 * decays with live traffic like any other, so the log fades as the router meets its own traffic.
 *
 * Rows are checked and mapped to arms before any is applied, and a batch travels as one event
 * (learnt, saved and shared like any other): it is applied whole or not at all.
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
  /** Per logged model name; a cost or latency left out is not known (it seeds nothing). */
  readonly outcomes: ReadonlyMap<string, { readonly quality: number; readonly costUsd?: number | undefined; readonly latencyMs?: number | undefined }>;
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
  /** The router's classifier: logged rows land in the contexts live requests like them are routed in. */
  readonly classify: ContextClassifier;
  /** Most rows one call may apply (bounds the work of one admin request); unset = no bound. */
  readonly maxRows?: number | undefined;
}

/** Checks every row and maps it to arms and a context; throws WarmStartError naming the first bad row. */
export function warmStartEvent(rows: readonly LoggedRow[], options: WarmStartOptions): { event: LoggedEvent; summary: WarmStartSummary } {
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
  let count = 0;
  const events = rows.map((row) => {
    const outcomes: LoggedOutcome[] = [];
    for (const [model, o] of row.outcomes) {
      const armIds = options.resolve(model);
      if (armIds.length === 0) unmatched.add(model);
      for (const armId of armIds) {
        outcomes.push({ armId, quality: o.quality, costUsd: o.costUsd ?? null, latencyMs: o.latencyMs ?? null });
      }
    }
    count += outcomes.length;
    return { context: options.classify([{ role: 'user', content: row.prompt }], row.tags), outcomes };
  });
  return {
    event: { type: 'logged', weight: options.weight, rows: events.filter((r) => r.outcomes.length > 0) },
    summary: { rows: rows.length, outcomes: count, unmatchedModels: [...unmatched].sort() },
  };
}

/** Checks every row, then teaches all of them as one event; throws WarmStartError before anything is learnt. */
export async function applyWarmStart(
  learning: Pick<Learning, 'observe'>,
  rows: readonly LoggedRow[],
  options: WarmStartOptions,
): Promise<WarmStartSummary> {
  const { event, summary } = warmStartEvent(rows, options);
  if (event.rows.length > 0) await learning.observe(event);
  return summary;
}

export type WarmStarter = (rows: readonly LoggedRow[], weight?: number) => Promise<WarmStartSummary>;

/** What the `warmStart` mutation calls: the configured mapping, weight and batch bound over a running router's learning. */
export function createWarmStarter(deps: {
  readonly learning: Pick<Learning, 'observe'>;
  readonly arms: readonly Pick<ArmConfig, 'id' | 'model'>[];
  readonly models: readonly ModelConfig[];
  readonly warmStart: { readonly weight: number; readonly models: Readonly<Record<string, string>>; readonly maxRowsPerCall: number };
  readonly classify: ContextClassifier;
}): WarmStarter {
  const resolve = createArmResolver(deps.arms, deps.models, deps.warmStart.models);
  return (rows, weight = deps.warmStart.weight) =>
    applyWarmStart(deps.learning, rows, { weight, resolve, classify: deps.classify, maxRows: deps.warmStart.maxRowsPerCall });
}
