import type { OperationalObservation } from './bandit.js';

/**
 * Per-request objectives: how one request trades quality against cost and latency, instead of
 * the configured `reward.cost` / `reward.latency`. Used for that request's decision only; learning
 * is unchanged (the posteriors are of quality, cost and latency, not of one request's utility).
 */
export interface RequestObjective {
  /** Quality units worth one reference cost (replaces reward.cost for this request). */
  readonly costWeight?: number | undefined;
  /** Quality units worth one reference latency (replaces reward.latency). */
  readonly latencyWeight?: number | undefined;
  /**
   * Highest expected cost in USD this request may be routed to: arms whose decayed mean cost in
   * the context exceeds it are not candidates (an arm never observed is, its cost being unknown);
   * when none fits, the cheapest expected arm serves.
   */
  readonly maxCostUsd?: number | undefined;
}

/** Why `objective` cannot be used, or null. */
export function objectiveProblem(objective: RequestObjective): string | null {
  for (const key of ['costWeight', 'latencyWeight'] as const) {
    const value = objective[key];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0 && value <= 1_000)) return `${key} must be between 0 and 1000`;
  }
  const ceiling = objective.maxCostUsd;
  if (ceiling !== undefined && !(Number.isFinite(ceiling) && ceiling > 0)) return 'maxCostUsd must be a positive number';
  return null;
}

/** The penalty with the objective's weights, against the given references (0 reference: no penalty). */
export function objectivePenalty(
  weights: { readonly cost: number; readonly latency: number },
  expected: OperationalObservation,
  reference: OperationalObservation,
): number {
  const relative = (value: number, ref: number) => (ref > 0 ? Math.max(0, value) / ref : 0);
  return weights.cost * relative(expected.costUsd, reference.costUsd) + weights.latency * relative(expected.latencyMs, reference.latencyMs);
}
