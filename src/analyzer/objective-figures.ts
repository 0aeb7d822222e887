import type { RequestObjective } from '../router/objectives.js';

/**
 * Spend and quality per request objective (ChatInput.objective): what each trade-off clients ask for
 * actually costs and earns, since start on this instance (like the analyzer's other figures).
 * Requests that gave none, or an empty one, are the `default` group (the configured reward weights).
 * Objectives are client-chosen numbers, so the groups are bounded: past `maxObjectives` a new one
 * is counted under `(other)`.
 */

export const DEFAULT_OBJECTIVE = 'default';
export const OTHER_OBJECTIVE = '(other)';

export interface ObjectiveArmFigures {
  readonly armId: string;
  readonly requests: number;
}

export interface ObjectiveFigures {
  /** `default`, `(other)`, or the objective's set fields, e.g. `costWeight=0.5 maxCostUsd=0.001`. */
  readonly objective: string;
  /** The group's values (null: not set, the configured weight applies; all null for `default` and `(other)`). */
  readonly costWeight: number | null;
  readonly latencyWeight: number | null;
  readonly maxCostUsd: number | null;
  /** Finished requests (completed, failed or cancelled), cached ones included. */
  readonly requests: number;
  readonly errors: number;
  readonly cachedRequests: number;
  readonly spendUsd: number;
  /** spendUsd / requests; null without requests. */
  readonly meanCostUsd: number | null;
  /** Requests with feedback, and the mean of their latest scores (null without any). */
  readonly judged: number;
  readonly meanQuality: number | null;
  /** Where the group's requests went, most requests first. */
  readonly arms: readonly ObjectiveArmFigures[];
}

/** What the tally needs of a finished request (a RequestRecord has it). */
export interface FinishedRequest {
  readonly objective?: RequestObjective | null | undefined;
  readonly armId: string | null;
  readonly costUsd: number;
  readonly error: boolean;
  readonly cached: boolean;
}

export interface ObjectiveTally {
  finished(request: FinishedRequest): void;
  /** A feedback score for a request with this objective; `previous`: the score it replaces (null for the first). */
  judged(objective: RequestObjective | null | undefined, score: number, previous: number | null): void;
  report(): ObjectiveFigures[];
}

interface Group {
  readonly objective: RequestObjective | null;
  requests: number;
  errors: number;
  cached: number;
  spendUsd: number;
  judged: number;
  qualitySum: number;
  readonly arms: Map<string, number>;
}

const FIELDS = ['costWeight', 'latencyWeight', 'maxCostUsd'] as const;

/** The group an objective is counted under: its set fields in a fixed order. */
export function objectiveLabel(objective: RequestObjective | null | undefined): string {
  if (!objective) return DEFAULT_OBJECTIVE;
  const parts = FIELDS.filter((f) => objective[f] !== undefined && objective[f] !== null).map((f) => `${f}=${objective[f]}`);
  return parts.length === 0 ? DEFAULT_OBJECTIVE : parts.join(' ');
}

export function createObjectiveTally(options: { readonly maxObjectives: number }): ObjectiveTally {
  const groups = new Map<string, Group>();
  const groupOf = (objective: RequestObjective | null | undefined): Group => {
    let label = objectiveLabel(objective);
    // The default group always has a place: the bound is on client-chosen objectives.
    if (!groups.has(label) && label !== DEFAULT_OBJECTIVE && groups.size >= options.maxObjectives) label = OTHER_OBJECTIVE;
    let group = groups.get(label);
    if (!group) {
      const own = label === DEFAULT_OBJECTIVE || label === OTHER_OBJECTIVE ? null : objective!;
      group = { objective: own, requests: 0, errors: 0, cached: 0, spendUsd: 0, judged: 0, qualitySum: 0, arms: new Map() };
      groups.set(label, group);
    }
    return group;
  };
  return {
    finished(request) {
      const group = groupOf(request.objective);
      group.requests += 1;
      if (request.error) group.errors += 1;
      if (request.cached) group.cached += 1;
      if (Number.isFinite(request.costUsd)) group.spendUsd += Math.max(0, request.costUsd);
      if (request.armId !== null) group.arms.set(request.armId, (group.arms.get(request.armId) ?? 0) + 1);
    },
    judged(objective, score, previous) {
      const group = groupOf(objective);
      if (previous === null) {
        group.judged += 1;
        group.qualitySum += score;
      } else {
        group.qualitySum += score - previous;
      }
    },
    report() {
      return [...groups.entries()]
        .map(([label, g]): ObjectiveFigures => ({
          objective: label,
          costWeight: g.objective?.costWeight ?? null,
          latencyWeight: g.objective?.latencyWeight ?? null,
          maxCostUsd: g.objective?.maxCostUsd ?? null,
          requests: g.requests,
          errors: g.errors,
          cachedRequests: g.cached,
          spendUsd: g.spendUsd,
          meanCostUsd: g.requests > 0 ? g.spendUsd / g.requests : null,
          judged: g.judged,
          meanQuality: g.judged > 0 ? g.qualitySum / g.judged : null,
          arms: [...g.arms.entries()].map(([armId, requests]) => ({ armId, requests })).sort((a, b) => b.requests - a.requests || a.armId.localeCompare(b.armId)),
        }))
        .sort((a, b) => (a.objective === DEFAULT_OBJECTIVE ? -1 : b.objective === DEFAULT_OBJECTIVE ? 1 : b.requests - a.requests || a.objective.localeCompare(b.objective)));
    },
  };
}
