import type { RequestSample } from '../analyzer/performance-analyzer.js';
import { refusedAsInvalid, type UpstreamError } from '../models/backend.js';
import type { RewardCalculator } from '../router/reward-calculator.js';
import type { JudgementEvent, LearningEventBody, LoggedEvent, OutcomeEvent, Verdict } from './learning-events.js';

/**
 * The one place that decides what an event teaches. Pure: an event in, lessons out.
 *
 * Lessons for the statistics (shared: every replica applies every instance's events in log order)
 * are kept apart from lessons for the analyzer (per instance: only the instance that observed the
 * event records them, at once, so its rolling windows describe its own traffic).
 */

export type StatsLesson =
  /** Counts a pull and ticks the forgetting clock of the context. */
  | { readonly kind: 'pull'; readonly armId: string; readonly context: string }
  /** One completed call's cost and latency, for the arm's operational means. */
  | {
      readonly kind: 'operational';
      readonly armId: string;
      readonly context: string;
      readonly costUsd: number;
      readonly latencyMs: number;
      /** A call the router paid for (a logged outcome seeds the means, not the spend budgets are paced on). */
      readonly spent: boolean;
    }
  /** Quality evidence: a reward in [0, 1] with a weight; a negative weight retracts earlier evidence. */
  | { readonly kind: 'evidence'; readonly armId: string; readonly context: string; readonly reward: number; readonly weight: number };

export type AnalyzerLesson =
  | { readonly kind: 'sample'; readonly sample: RequestSample }
  /** The request's reward on the router's scale; the reward itself needs the current references. */
  | { readonly kind: 'reward'; readonly verdict: Verdict };

/** Which answer a comparison preferred, as its verdicts' scores say (primary first, shadow second). */
export type Preference = 'PRIMARY' | 'SHADOW' | 'TIE';

/**
 * A comparison's tally for the shadow arm (the `shadow` figures: comparisons by verdict), with the
 * verdict it replaces (null for the first): a second comparison moves the tally, never adds one.
 */
export interface ShadowLesson {
  readonly kind: 'comparison';
  readonly armId: string;
  readonly preferred: Preference;
  readonly replaces: Preference | null;
}

export type OperatorLesson =
  | { readonly kind: 'arm-enabled'; readonly armId: string; readonly enabled: boolean }
  | { readonly kind: 'shadow-rate'; readonly rate: number };

export interface Lessons {
  readonly stats: readonly StatsLesson[];
  readonly analyzer: readonly AnalyzerLesson[];
  readonly operator: readonly OperatorLesson[];
  /** Shared like the statistics: every replica's comparison tallies come out identical. */
  readonly shadow: readonly ShadowLesson[];
}

const NOTHING: Lessons = { stats: [], analyzer: [], operator: [], shadow: [] };

/** The preference a comparison's pair of scores stands for (see comparisonScores in src/router/shadow-router.ts). */
export function preferenceOf(primaryScore: number, shadowScore: number): Preference {
  if (primaryScore > shadowScore) return 'PRIMARY';
  if (shadowScore > primaryScore) return 'SHADOW';
  return 'TIE';
}

export type LearningRules = (event: LearningEventBody) => Lessons;

/**
 * The evidence one verdict adds: its score at the configured quality weight times the judge's
 * weight (the client's influence cap, decided when the judgement was made; 0 for a pinned
 * request), after retracting the score it replaces at the same weight (a second judgement by the
 * same judge replaces the first, never adds to it).
 */
export function verdictEvidence(verdict: Verdict, reward: Pick<RewardCalculator, 'quality'>): StatsLesson[] {
  const { armId, context } = verdict;
  const judge = verdict.weight ?? 1;
  if (judge <= 0) return [];
  const lessons: StatsLesson[] = [];
  if (verdict.previous !== null) {
    const old = reward.quality(verdict.previous);
    lessons.push({ kind: 'evidence', armId, context, reward: old.reward, weight: -old.weight * judge });
  }
  const part = reward.quality(verdict.score);
  lessons.push({ kind: 'evidence', armId, context, reward: part.reward, weight: part.weight * judge });
  return lessons;
}

/**
 * The outcome kind of a failed live call, so the rule below applies to it. `refused` teaches the
 * bandit nothing: a call refused here (circuit open, Retry-After pending, this instance full)
 * never reached the model, and one the provider refused as invalid (HTTP 400, 413, 422: a prompt
 * past the context window, a parameter the model does not take) is the caller's mistake, not a
 * measure of the arm: penalising it would let one caller's over-long prompts steer everyone's
 * routing. Any other failure is a failed pull of the arm.
 */
export function failedCallKind(error: UpstreamError): 'primary' | 'refused' {
  return error.code === 'MODEL_UNAVAILABLE' || error.code === 'OVERLOADED' || refusedAsInvalid(error) ? 'refused' : 'primary';
}

function outcomeLessons(event: OutcomeEvent, reward: Pick<RewardCalculator, 'operational'>): Lessons {
  const sample: RequestSample = {
    armId: event.armId,
    modelId: event.modelId,
    context: event.context,
    latencyMs: event.latencyMs,
    ttftMs: event.ttftMs,
    completionTokens: event.completionTokens,
    costUsd: event.kind === 'cached' ? 0 : event.costUsd,
    error: event.error,
    cached: event.kind === 'cached',
    ...(event.kind === 'shadow' ? { shadow: true } : {}),
    // Counted apart from the errors: a refusal is not the model failing (failedCallKind).
    ...(event.kind === 'refused' ? { refused: true } : {}),
  };
  const analyzer: AnalyzerLesson[] = [{ kind: 'sample', sample }];
  // A cache hit measures the cache, not the model; a refused call never reached the model (the
  // failures that opened its circuit were learnt already, and learning them again would punish
  // one outage twice) or was refused as the caller's mistake (failedCallKind): no reward, and no
  // cost or latency sample either (a refusal's latency is not the arm's).
  if (event.kind === 'cached' || event.kind === 'refused') return { ...NOTHING, analyzer };
  const { armId, context } = event;
  // Cost and latency are measured on every call; shadow calls add no pull: pulls count what users
  // were served, and they drive the forgetting clock.
  const stats: StatsLesson[] = [{ kind: 'operational', armId, context, costUsd: event.costUsd, latencyMs: event.latencyMs, spent: true }];
  const part = reward.operational({ ...event, cached: false });
  if (part) stats.push({ kind: 'evidence', armId, context, reward: part.reward, weight: part.weight });
  return { ...NOTHING, stats, analyzer };
}

function judgementLessons(event: JudgementEvent, reward: Pick<RewardCalculator, 'quality'>): Lessons {
  // An answer served from the cache or another request's call says nothing about the arm's choice here.
  if (event.shared) return NOTHING;
  const [primary, shadow] = event.verdicts;
  return {
    stats: event.verdicts.flatMap((verdict) => verdictEvidence(verdict, reward)),
    // The analyzer's mean reward is over requests whose quality is known: each judgement counts once, as first given.
    analyzer: event.verdicts.filter((v) => v.previous === null).map((verdict) => ({ kind: 'reward', verdict })),
    operator: [],
    shadow:
      event.kind === 'comparison' && primary && shadow
        ? [
            {
              kind: 'comparison',
              armId: shadow.armId,
              preferred: preferenceOf(primary.score, shadow.score),
              replaces: primary.previous === null || shadow.previous === null ? null : preferenceOf(primary.previous, shadow.previous),
            },
          ]
        : [],
  };
}

/**
 * A logged outcome teaches like `weight` feedback scores; a logged cost or latency is one
 * operational observation (a point estimate: one is enough to seed the mean live calls refine).
 * No pull: the forgetting clocks count live traffic, so logged evidence fades as the router serves.
 */
function loggedLessons(event: LoggedEvent, reward: Pick<RewardCalculator, 'quality'>): Lessons {
  const stats: StatsLesson[] = [];
  for (const { context, outcomes } of event.rows) {
    for (const o of outcomes) {
      const part = reward.quality(o.quality);
      stats.push({ kind: 'evidence', armId: o.armId, context, reward: part.reward, weight: part.weight * event.weight });
      if (o.costUsd !== null || o.latencyMs !== null) {
        stats.push({ kind: 'operational', armId: o.armId, context, costUsd: o.costUsd ?? 0, latencyMs: o.latencyMs ?? 0, spent: false });
      }
    }
  }
  return { ...NOTHING, stats };
}

export function createLearningRules(reward: Pick<RewardCalculator, 'operational' | 'quality'>): LearningRules {
  return (event) => {
    switch (event.type) {
      case 'pull':
        return { ...NOTHING, stats: [{ kind: 'pull', armId: event.armId, context: event.context }] };
      case 'outcome':
        return outcomeLessons(event, reward);
      case 'judgement':
        return judgementLessons(event, reward);
      case 'arm-enabled':
        return { ...NOTHING, operator: [{ kind: 'arm-enabled', armId: event.armId, enabled: event.enabled }] };
      case 'shadow-rate':
        return { ...NOTHING, operator: [{ kind: 'shadow-rate', rate: event.rate }] };
      case 'logged':
        return loggedLessons(event, reward);
    }
  };
}
