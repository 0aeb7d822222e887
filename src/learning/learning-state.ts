import type { ArmConfig } from '../config/schema.js';
import { contextChain, GLOBAL_CONTEXT, parentContext, type ContextualStats, type LearnedState } from '../router/bandit.js';
import type { LearningEventBody } from './learning-events.js';
import type { LearningRules, Lessons, Preference } from './learning-rules.js';

/**
 * What the router has learnt, as the result of applying events in log order: the bandit's
 * statistics, the operators' changes and the contexts admitted under `bandit.maxContexts`. Nothing
 * here reads a clock or depends on when an event arrived, so replicas that apply the same events in
 * the same order hold bit-identical state (forgetting ticks per pull, not per second).
 */

/** Everything applied so far, as plain JSON-safe data: the state file's and the Redis snapshot's content. */
export interface LearningSnapshot {
  readonly version: 2;
  readonly stats: LearnedState;
  readonly operator: {
    /** Arms an operator enabled or disabled; the others follow the configuration. */
    readonly arms: Readonly<Record<string, boolean>>;
    /** The shadow rate an operator set; null follows the configuration. */
    readonly shadowRate: number | null;
  };
  /**
   * Comparisons by shadow arm (the `shadow` query's verdict figures); absent in state saved before
   * comparisons were shared.
   */
  readonly comparisons?: Readonly<Record<string, ComparisonTally>>;
  /** Events applied since the state began (diagnostics). */
  readonly applied: number;
}

/** The comparisons in which an arm was the shadow, by verdict (each request counted once, as last judged). */
export interface ComparisonTally {
  readonly comparisons: number;
  readonly shadowPreferred: number;
  readonly primaryPreferred: number;
  readonly ties: number;
}

export interface OperatorView {
  isArmEnabled(armId: string): boolean;
  /** The shadow rate an operator set, null when none did. */
  shadowRate(): number | null;
}

export interface LearningState extends OperatorView {
  /** Applies one event's lessons for the statistics and the operator state; returns the lessons (the analyzer's included). */
  apply(event: LearningEventBody): Lessons;
  /** Comparison tallies by shadow arm id. */
  comparisons(): ReadonlyMap<string, ComparisonTally>;
  /** Contexts with statistics of their own (admitted by events), {@link GLOBAL_CONTEXT} excluded. */
  knownContexts(): ReadonlySet<string>;
  applied(): number;
  snapshot(): LearningSnapshot;
  /** Replaces everything with `snapshot`; arms the configuration no longer has are dropped. */
  restore(snapshot: LearningSnapshot): void;
  /** Forgets everything (a replica rebuilding from a snapshot and the log after it). */
  reset(): void;
}

export interface LearningStateDeps {
  readonly stats: ContextualStats;
  readonly rules: LearningRules;
  readonly arms: readonly ArmConfig[];
  readonly maxContexts: number;
}

export function createLearningState(deps: LearningStateDeps): LearningState {
  const { stats, rules, maxContexts } = deps;
  const armIds = new Set(deps.arms.map((arm) => arm.id));
  const configured = new Map(deps.arms.map((arm) => [arm.id, arm.enabled]));
  const overrides = new Map<string, boolean>();
  let shadowRate: number | null = null;
  let applied = 0;
  const tallies = new Map<string, ComparisonTally>();
  const known = new Set<string>(stats.contexts());
  const emptyStats = stats.snapshot();

  const field: Record<Preference, 'shadowPreferred' | 'primaryPreferred' | 'ties'> = {
    SHADOW: 'shadowPreferred',
    PRIMARY: 'primaryPreferred',
    TIE: 'ties',
  };
  const tally = (armId: string, preferred: Preference, replaces: Preference | null) => {
    const next = { ...(tallies.get(armId) ?? { comparisons: 0, shadowPreferred: 0, primaryPreferred: 0, ties: 0 }) };
    if (replaces === null) next.comparisons += 1;
    else next[field[replaces]] -= 1;
    next[field[preferred]] += 1;
    tallies.set(armId, next);
  };

  const isArmEnabled = (armId: string) => overrides.get(armId) ?? configured.get(armId) ?? false;

  /**
   * Where an event's evidence lands. Tags come from clients, so contexts are bounded: past
   * `maxContexts` a new context shares its nearest known ancestor's statistics. Decided in log
   * order, so every replica admits the same contexts.
   */
  const resolve = (context: string): string => {
    if (context === GLOBAL_CONTEXT || known.has(context)) return context;
    if (known.size < maxContexts) {
      for (const c of contextChain(context)) if (c !== GLOBAL_CONTEXT) known.add(c);
      return context;
    }
    let current = context;
    while (current !== GLOBAL_CONTEXT && !known.has(current)) current = parentContext(current);
    return current;
  };

  return {
    apply(event) {
      const lessons = rules(event);
      for (const lesson of lessons.stats) {
        // Events from outside this process (the log, a journal) may name an arm a newer configuration dropped.
        if (!armIds.has(lesson.armId)) continue;
        const context = resolve(lesson.context);
        if (lesson.kind === 'pull') stats.recordPull(lesson.armId, context);
        else if (lesson.kind === 'operational') {
          stats.recordOperational(lesson.armId, context, { costUsd: lesson.costUsd, latencyMs: lesson.latencyMs }, lesson.spent);
        } else stats.update(lesson.armId, context, lesson.reward, lesson.weight);
      }
      for (const lesson of lessons.operator) {
        if (lesson.kind === 'shadow-rate') shadowRate = lesson.rate;
        else if (armIds.has(lesson.armId)) {
          // Two operators disabling the last two arms on two instances at once: the later change
          // (in log order) is the one that would leave nothing to route to, and it is dropped.
          const remaining = [...armIds].filter((id) => id !== lesson.armId && isArmEnabled(id));
          if (lesson.enabled || remaining.length > 0) overrides.set(lesson.armId, lesson.enabled);
        }
      }
      for (const lesson of lessons.shadow) if (armIds.has(lesson.armId)) tally(lesson.armId, lesson.preferred, lesson.replaces);
      applied += 1;
      return lessons;
    },
    isArmEnabled,
    shadowRate: () => shadowRate,
    comparisons: () => tallies,
    knownContexts: () => known,
    applied: () => applied,
    snapshot() {
      return {
        version: 2,
        stats: stats.snapshot(),
        operator: { arms: Object.fromEntries(overrides), shadowRate },
        ...(tallies.size > 0 ? { comparisons: Object.fromEntries(tallies) } : {}),
        applied,
      };
    },
    restore(snapshot) {
      stats.restore(snapshot.stats, armIds);
      known.clear();
      for (const c of stats.contexts()) known.add(c);
      overrides.clear();
      for (const [armId, enabled] of Object.entries(snapshot.operator.arms)) if (armIds.has(armId)) overrides.set(armId, enabled);
      // A configuration change may have left the saved changes with no arm enabled: the configuration then wins.
      if (![...armIds].some(isArmEnabled)) overrides.clear();
      shadowRate = snapshot.operator.shadowRate;
      tallies.clear();
      for (const [armId, t] of Object.entries(snapshot.comparisons ?? {})) if (armIds.has(armId)) tallies.set(armId, { ...t });
      applied = snapshot.applied;
    },
    reset() {
      stats.restore(emptyStats, armIds);
      known.clear();
      overrides.clear();
      shadowRate = null;
      tallies.clear();
      applied = 0;
    },
  };
}
