import { verdictWeight, type ClientInfluence } from '../learning/client-influence.js';
import { failedCallKind } from '../learning/learning-rules.js';
import { CodedError } from '../coded-error.js';
import { RequestStoreUnavailableError } from '../chat/request-store.js';
import type { ArmConfig, ShadowConfig } from '../config/schema.js';
import type { Learning } from '../learning/learning.js';
import type { LearningEvent } from '../learning/learning-events.js';
import type { Logger } from '../logger.js';
import { costUsd, UpstreamError, type ChatMessage } from '../models/backend.js';
import { completionRequestFor } from '../models/arm-request.js';
import type { ModelManager } from '../models/model-manager.js';
import type { AdaptiveRouter, ArmView, RouteDecision } from './adaptive-router.js';
import { createRng, type Rng } from './random.js';
import { createShadowCallStore, type ShadowCallRecord, type ShadowCallStatus, type ShadowCallStore } from './shadow-call-store.js';

/**
 * Shadow routing: a share of routed requests is also sent, in the background, to a second arm.
 * The user never sees or waits for the shadow answer. What the call measures feeds that arm's
 * operational statistics, and its answer is kept so that a judge can say which of the two answers
 * was better (a pairwise comparison), which teaches the bandit about both arms at once.
 * See docs/shadow.md.
 */

/** An unknown, expired or not-provably-yours request is refused before this, by the chat gate (REQUEST_NOT_FOUND). */
export type ShadowErrorCode =
  | 'NO_SHADOW'
  | 'REQUEST_NOT_COMPLETED'
  | 'SHADOW_NOT_COMPLETED'
  | 'SAME_ARM'
  | 'INVALID_SHADOW_RATE'
  | 'REQUEST_UNAVAILABLE';

export class ShadowError extends CodedError<ShadowErrorCode> {
  override readonly name = 'ShadowError';
}

export type ComparisonPreference = 'PRIMARY' | 'SHADOW' | 'TIE';
export type ShadowSkipReason = 'budget' | 'concurrency' | 'noArm';
export type { ShadowCallStatus };

/** The primary request as the shadow router is told about it when its upstream call begins. */
export interface ShadowCandidate {
  readonly requestId: string;
  /** The primary's first routing decision. */
  readonly decision: RouteDecision;
  readonly request: {
    readonly messages: readonly ChatMessage[];
    readonly maxTokens?: number | undefined;
    readonly temperature?: number | undefined;
  };
}

/** What the shadow router needs to know of a primary request when a comparison arrives (its record, found by the caller). */
export interface PrimaryRequestView {
  readonly id: string;
  readonly status: string;
  readonly decision: RouteDecision | null;
  /** What the primary call cost and how long it took, once completed. */
  readonly metrics: { readonly costUsd: number; readonly latencyMs: number } | null;
  /** Who made it (key id or anonymous@address), whose comparison is weighed against its share cap. */
  readonly client?: string | null;
}

export interface ShadowCallView {
  readonly requestId: string;
  readonly armId: string;
  readonly modelId: string;
  /** The arm the primary request was first routed to. */
  readonly primaryArmId: string;
  readonly context: string;
  readonly status: ShadowCallStatus;
  /** The shadow answer so far (complete once status is completed), as stored: cut at shadow.maxStoredAnswerBytes. */
  readonly text: string;
  /** Whether `text` is the stored beginning of a longer answer. */
  readonly textTruncated: boolean;
  /** The whole answer's size in UTF-8 bytes when `text` was cut; null when `text` is all of it. */
  readonly truncatedFromBytes: number | null;
  readonly errorCode: string | null;
  readonly latencyMs: number | null;
  readonly ttftMs: number | null;
  readonly completionTokens: number;
  readonly costUsd: number;
  readonly startedAt: number;
  readonly comparison: ComparisonPreference | null;
}

export interface ShadowArmStats {
  readonly armId: string;
  readonly modelId: string;
  /** Shadow calls started on this arm. */
  readonly calls: number;
  readonly completed: number;
  readonly failed: number;
  readonly spendUsd: number;
  /** Means over completed shadow calls; null before any. */
  readonly meanLatencyMs: number | null;
  readonly meanTtftMs: number | null;
  /** Comparisons in which this arm was the shadow, by verdict (shared by every instance: learnt from the log). */
  readonly comparisons: number;
  readonly shadowPreferred: number;
  readonly primaryPreferred: number;
  readonly ties: number;
}

export interface ShadowStats {
  readonly rate: number;
  /** "uncertain" or the configured arm id. */
  readonly arm: string;
  readonly maxConcurrent: number;
  readonly budgetUsdPerMinute: number;
  /** Requests considered: routed (not pinned) requests that reached a model call. */
  readonly eligible: number;
  /** Eligible requests the rate selected (started + skipped). */
  readonly selected: number;
  readonly calls: number;
  readonly inFlight: number;
  readonly completed: number;
  readonly failed: number;
  readonly spendUsd: number;
  /** Shadow spend of the calls that ended in the last 60 s: what the budget is checked against. */
  readonly spendLastMinuteUsd: number;
  readonly skipped: Readonly<Record<ShadowSkipReason, number>>;
  /** Why a selected request would be skipped now; null when shadowing runs. */
  readonly paused: 'budget' | 'concurrency' | null;
  readonly comparisons: number;
  readonly arms: readonly ShadowArmStats[];
}

export interface ComparisonResult {
  readonly requestId: string;
  readonly preferred: ComparisonPreference;
  readonly context: string;
  /** Both arms' statistics in the request's context after the update. */
  readonly primaryArm: ArmView;
  readonly shadowArm: ArmView;
}

export interface ShadowRouter {
  /**
   * Called once per fresh upstream request, as its model call begins. Decides at once (one random
   * draw and a few counters) and schedules the shadow call for later, so the primary never waits
   * for it. Never throws.
   */
  consider(candidate: ShadowCandidate): void;
  /**
   * Teaches the bandit a pairwise preference between the primary's arm and the shadow's, for a
   * request the caller found (and may rate: src/auth/request-access.ts decides, before this). A
   * second comparison for the same request replaces the first, on any instance.
   */
  submitComparison(primary: PrimaryRequestView, preferred: ComparisonPreference): Promise<ComparisonResult>;
  /** The shadow call run here or, shared, by any instance; throws ShadowError REQUEST_UNAVAILABLE when that cannot be asked. */
  call(requestId: string): Promise<ShadowCallView | undefined>;
  stats(): ShadowStats;
  /**
   * Admin: changes the share of eligible requests shadowed (an operator change, applied on every
   * instance sharing the event log); throws ShadowError outside [0, 1].
   */
  setRate(rate: number): Promise<ShadowStats>;
  /**
   * Called once per event a shared log applies, whoever observed it (with `spendFromLog`): every
   * instance's shadow spend counts against the budget, each call once.
   */
  applied(event: LearningEvent): void;
  /** Aborts the shadow calls in flight and waits for them to settle (shutdown). */
  close(): Promise<void>;
}

export interface ShadowRouterDeps {
  readonly config: ShadowConfig;
  readonly arms: readonly ArmConfig[];
  /** Completion tokens asked for when neither the request nor the arm says (limits.defaultMaxTokens). */
  readonly defaultMaxTokens: number;
  /** How long a shadow answer is kept for comparisons (feedback.ttlMs). */
  readonly retentionMs: number;
  readonly router: AdaptiveRouter;
  readonly models: Pick<ModelManager, 'stream' | 'view' | 'isAvailable'>;
  /**
   * Where shadow calls' outcomes and comparisons go; the operator's shadow rate and the
   * comparison tallies are read from it.
   */
  readonly learning: Pick<Learning, 'observe' | 'operator' | 'state'>;
  /** The weight of a client's comparison, the same share cap as its feedback; absent: every comparison weighs 1. */
  readonly influence?: ClientInfluence;
  /**
   * With a shared log: the per-minute budget counts every instance's shadow spend, as the log
   * applies it (see ShadowRouter.applied); without, this instance's calls as they end.
   */
  readonly spendFromLog?: boolean;
  /** Where calls are kept for comparisons; defaults to an in-process store (shadow.maxStoredCalls, retentionMs). */
  readonly calls?: ShadowCallStore;
  readonly logger: Logger;
  /** Monotonic ms for latencies; defaults to performance.now. */
  readonly now?: () => number;
  /** Wall-clock ms for the per-minute budget; defaults to Date.now. */
  readonly clock?: () => number;
  readonly rng?: Rng;
  /** Runs a shadow call later; defaults to setImmediate (after pending I/O, so the primary goes first). */
  readonly schedule?: (task: () => void) => void;
}

const BUDGET_WINDOW_MS = 60_000;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

type StoredCall = ShadowCallRecord;

interface MutableArmStats {
  calls: number;
  completed: number;
  failed: number;
  spendUsd: number;
  latencySumMs: number;
  ttftSumMs: number;
  ttftCount: number;
}

/** Scores (primary, shadow) a preference becomes: the preferred answer 1, the other 0, a tie ½ each. */
export function comparisonScores(preferred: ComparisonPreference): { primary: number; shadow: number } {
  if (preferred === 'PRIMARY') return { primary: 1, shadow: 0 };
  if (preferred === 'SHADOW') return { primary: 0, shadow: 1 };
  return { primary: 0.5, shadow: 0.5 };
}

/** Variance of Beta(alpha, beta): how unsure the posterior is about the arm's quality. */
function betaVariance(alpha: number, beta: number): number {
  const sum = alpha + beta;
  return (alpha * beta) / (sum * sum * (sum + 1));
}

export function createShadowRouter(deps: ShadowRouterDeps): ShadowRouter {
  const { config, router, models, learning } = deps;
  const now = deps.now ?? (() => performance.now());
  const clock = deps.clock ?? Date.now;
  const rng = deps.rng ?? createRng(config.seed);
  const schedule = deps.schedule ?? ((task: () => void) => void setImmediate(task));
  const logger = deps.logger.child({ component: 'shadow' });
  const armsById = new Map(deps.arms.map((arm) => [arm.id, arm]));

  const rate = () => learning.operator.shadowRate() ?? config.rate;
  let closed = false;
  let eligible = 0;
  let selected = 0;
  let calls = 0;
  let completed = 0;
  let failed = 0;
  let spendUsd = 0;
  const skipped: Record<ShadowSkipReason, number> = { budget: 0, concurrency: 0, noArm: 0 };
  const armStats = new Map<string, MutableArmStats>();
  /** (end time, cost) of shadow calls that ended within the budget window, oldest first. */
  const recentSpend: Array<{ at: number; costUsd: number; eventId?: string }> = [];
  /** Ids of the shared log's events in recentSpend: an event applied again (a replay after an outage) counts once. */
  const counted = new Set<string>();
  const inFlight = new Map<StoredCall, { controller: AbortController; settled: Promise<void> }>();
  const stored = deps.calls ?? createShadowCallStore({ maxCalls: config.maxStoredCalls, ttlMs: deps.retentionMs, maxAnswerBytes: config.maxStoredAnswerBytes });

  const statsOf = (armId: string): MutableArmStats => {
    let stats = armStats.get(armId);
    if (!stats) {
      stats = {
        calls: 0,
        completed: 0,
        failed: 0,
        spendUsd: 0,
        latencySumMs: 0,
        ttftSumMs: 0,
        ttftCount: 0,
      };
      armStats.set(armId, stats);
    }
    return stats;
  };

  const spendLastMinute = (): number => {
    const cutoff = clock() - BUDGET_WINDOW_MS;
    while (recentSpend.length > 0 && recentSpend[0]!.at <= cutoff) {
      const gone = recentSpend.shift()!;
      if (gone.eventId !== undefined) counted.delete(gone.eventId);
    }
    return recentSpend.reduce((sum, entry) => sum + entry.costUsd, 0);
  };

  const pausedBy = (): 'budget' | 'concurrency' | null => {
    if (spendLastMinute() >= config.budgetUsdPerMinute) return 'budget';
    if (inFlight.size >= config.maxConcurrent) return 'concurrency';
    return null;
  };

  const chooseArm = (primary: RouteDecision): string | null => {
    if (config.arm !== 'uncertain') {
      const arm = armsById.get(config.arm);
      if (!arm || arm.id === primary.armId || !models.isAvailable(arm.model)) return null;
      return arm.id;
    }
    let chosen: string | null = null;
    let widest = -1;
    for (const arm of router.routableArms(primary.context)) {
      if (arm.id === primary.armId) continue;
      const variance = betaVariance(arm.posterior.alpha, arm.posterior.beta);
      if (variance > widest) {
        widest = variance;
        chosen = arm.id;
      }
    }
    return chosen;
  };

  async function run(call: StoredCall, candidate: ShadowCandidate, signal: AbortSignal): Promise<void> {
    const arm = armsById.get(call.armId)!;
    const { request } = candidate;
    const started = now();
    const parts: string[] = [];
    let counted = 0;
    let usage: { promptTokens: number; completionTokens: number } | null = null;
    try {
      const events = models.stream(call.modelId, completionRequestFor(arm, request, deps.defaultMaxTokens, signal));
      for await (const event of events) {
        if (event.type === 'token') {
          call.ttftMs ??= now() - started;
          parts.push(event.text);
          counted += 1;
          // A model that streams faster than I/O (in-process, cached upstream) would otherwise run
          // the whole shadow answer as one burst of microtasks, stalling primary streams meanwhile.
          await yieldToEventLoop();
        } else if (event.type === 'usage') {
          usage = event;
        }
      }
      const completionTokens = usage?.completionTokens ?? counted;
      const cost = costUsd(models.view(call.modelId).pricing, usage?.promptTokens ?? 0, completionTokens);
      Object.assign(call, {
        status: 'completed',
        text: parts.join(''),
        latencyMs: now() - started,
        completionTokens,
        costUsd: cost,
      });
      finish(call, usage?.promptTokens ?? 0);
    } catch (error) {
      if (signal.aborted) {
        // Shutdown, not the model's fault: nothing is learned from it.
        call.status = 'cancelled';
        return;
      }
      const upstream = error instanceof UpstreamError ? error : null;
      if (!upstream) logger.error({ err: error, arm: call.armId }, 'shadow call failed');
      Object.assign(call, {
        status: 'failed',
        text: parts.join(''),
        errorCode: upstream?.code ?? 'UPSTREAM_ERROR',
        latencyMs: now() - started,
        completionTokens: counted,
      });
      // What a failure teaches is the learning rules' call, as for the primary: a refusal (the
      // provider's of an invalid request, or this instance's) is the caller's or nobody's fault.
      finish(call, 0, upstream && failedCallKind(upstream) === 'refused' ? 'refused' : 'shadow');
    }
  }

  /**
   * Records what a finished shadow call measured, everywhere the arm's operational figures live;
   * `failure` is the kind of outcome a failed call is (none: it completed).
   */
  function finish(call: StoredCall, promptTokens: number, failure?: 'shadow' | 'refused'): void {
    const error = failure !== undefined;
    const stats = statsOf(call.armId);
    spendUsd += call.costUsd;
    stats.spendUsd += call.costUsd;
    // With a shared log, this call's spend is counted when its event is applied, like every instance's.
    if (!deps.spendFromLog) recentSpend.push({ at: clock(), costUsd: call.costUsd });
    if (error) {
      failed += 1;
      stats.failed += 1;
    } else {
      completed += 1;
      stats.completed += 1;
      stats.latencySumMs += call.latencyMs!;
      if (call.ttftMs !== null) {
        stats.ttftSumMs += call.ttftMs;
        stats.ttftCount += 1;
      }
    }
    void learning.observe({
      type: 'outcome',
      kind: failure ?? 'shadow',
      requestId: call.requestId,
      armId: call.armId,
      modelId: call.modelId,
      context: call.context,
      latencyMs: call.latencyMs!,
      ttftMs: call.ttftMs,
      promptTokens,
      completionTokens: call.completionTokens,
      costUsd: call.costUsd,
      error,
    });
  }

  function start(call: StoredCall, candidate: ShadowCandidate): void {
    const controller = new AbortController();
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    inFlight.set(call, { controller, settled });
    schedule(() => {
      // Shared as running first (off the primary's path), so that another instance asked meanwhile says so, not "no shadow".
      void stored.save(call);
      run(call, candidate, controller.signal)
        .catch((error: unknown) => logger.error({ err: error, arm: call.armId }, 'shadow bookkeeping failed'))
        .finally(() => {
          inFlight.delete(call);
          // Shared once ended, whichever way (a cancelled call too: other instances then say so).
          void stored.save(call).finally(settle);
        });
    });
  }

  const view = (call: StoredCall): ShadowCallView => ({
    requestId: call.requestId,
    armId: call.armId,
    modelId: call.modelId,
    primaryArmId: call.primaryArmId,
    context: call.context,
    status: call.status,
    text: call.text,
    textTruncated: call.truncatedFromBytes !== undefined,
    truncatedFromBytes: call.truncatedFromBytes ?? null,
    errorCode: call.errorCode,
    latencyMs: call.latencyMs,
    ttftMs: call.ttftMs,
    completionTokens: call.completionTokens,
    costUsd: call.costUsd,
    startedAt: call.startedAt,
    comparison: call.comparison?.preferred ?? null,
  });

  const NO_CALLS: MutableArmStats = { calls: 0, completed: 0, failed: 0, spendUsd: 0, latencySumMs: 0, ttftSumMs: 0, ttftCount: 0 };
  const NO_COMPARISONS = { comparisons: 0, shadowPreferred: 0, primaryPreferred: 0, ties: 0 };

  /**
   * The calls' figures are this instance's (the calls it ran, its budget); the comparisons' are
   * learnt from the event log, so every instance shows the same whichever took them.
   */
  const stats = (): ShadowStats => {
    const tallies = learning.state.comparisons();
    const armIds = [...new Set([...armStats.keys(), ...tallies.keys()])].filter((id) => armsById.has(id)).sort((a, b) => a.localeCompare(b));
    return {
      rate: rate(),
      arm: config.arm,
      maxConcurrent: config.maxConcurrent,
      budgetUsdPerMinute: config.budgetUsdPerMinute,
      eligible,
      selected,
      calls,
      inFlight: inFlight.size,
      completed,
      failed,
      spendUsd,
      spendLastMinuteUsd: spendLastMinute(),
      skipped: { ...skipped },
      paused: pausedBy(),
      comparisons: [...tallies.values()].reduce((sum, t) => sum + t.comparisons, 0),
      arms: armIds.map((armId) => {
        const s = armStats.get(armId) ?? NO_CALLS;
        return {
          armId,
          modelId: armsById.get(armId)!.model,
          calls: s.calls,
          completed: s.completed,
          failed: s.failed,
          spendUsd: s.spendUsd,
          meanLatencyMs: s.completed > 0 ? s.latencySumMs / s.completed : null,
          meanTtftMs: s.ttftCount > 0 ? s.ttftSumMs / s.ttftCount : null,
          ...(tallies.get(armId) ?? NO_COMPARISONS),
        };
      }),
    };
  };

  const find = async (requestId: string): Promise<StoredCall | undefined> => {
    try {
      return await stored.find(requestId);
    } catch (error) {
      if (!(error instanceof RequestStoreUnavailableError)) throw error;
      throw new ShadowError(
        'REQUEST_UNAVAILABLE',
        `the shadow call of request "${requestId}" was not run by this instance, and the shared request store cannot be reached: retry later`,
      );
    }
  };

  return {
    consider(candidate) {
      // After close() the models' connection pools are shut: a call now would only fail.
      if (closed) return;
      try {
        const { decision } = candidate;
        // A pinned request asked for one arm by name: its traffic says nothing about the routing mix.
        if (decision.pinned) return;
        eligible += 1;
        // Drawn for every eligible request, so which requests are selected does not depend on the limits.
        if (!(rng() < rate())) return;
        selected += 1;
        const paused = pausedBy();
        if (paused !== null) {
          skipped[paused] += 1;
          return;
        }
        const armId = chooseArm(decision);
        if (armId === null) {
          skipped.noArm += 1;
          return;
        }
        const call: StoredCall = {
          requestId: candidate.requestId,
          armId,
          modelId: armsById.get(armId)!.model,
          primaryArmId: decision.armId,
          context: decision.context,
          status: 'running',
          text: '',
          errorCode: null,
          latencyMs: null,
          ttftMs: null,
          completionTokens: 0,
          costUsd: 0,
          startedAt: clock(),
          comparison: null,
        };
        stored.add(call);
        calls += 1;
        statsOf(armId).calls += 1;
        start(call, candidate);
      } catch (error) {
        logger.error({ err: error, requestId: candidate.requestId }, 'shadow selection failed');
      }
    },

    async submitComparison(primary, preferred) {
      const requestId = primary.id;
      const call = await find(requestId);
      if (!call) throw new ShadowError('NO_SHADOW', `request "${requestId}" has no shadow answer`);
      if (primary.status !== 'completed' || primary.decision === null) {
        throw new ShadowError('REQUEST_NOT_COMPLETED', `request "${requestId}" is ${primary.status}`);
      }
      if (call.status !== 'completed') {
        throw new ShadowError('SHADOW_NOT_COMPLETED', `the shadow call of request "${requestId}" is ${call.status}`);
      }
      const primaryDecision = primary.decision;
      // Failover can land the primary on the shadow's arm: comparing an arm with itself teaches nothing.
      if (primaryDecision.armId === call.armId) {
        throw new ShadowError('SAME_ARM', `request "${requestId}" was answered by the shadow's arm "${call.armId}"`);
      }
      const scores = comparisonScores(preferred);
      // With a shared log the scores replaced are decided again where the append is atomic (the
      // request record's `cmp`, swapped by the append script): this one stands when Redis is away.
      const previous = call.comparison;
      // Each verdict is one judgement on its arm, under the client's share cap like feedback; a
      // replacement keeps the weights of the comparison it replaces.
      const judged = { client: primary.client ?? null, shared: false, context: primaryDecision.context, pinned: primaryDecision.pinned };
      const weigh = (replaced: number | undefined) => (deps.influence ? verdictWeight(deps.influence, judged, replaced) : 1);
      const weights = [weigh(previous?.weights[0]), weigh(previous?.weights[1])] as const;
      // Set before anything is awaited: a second comparison arriving meanwhile here replaces this one.
      call.comparison = { preferred, primaryScore: scores.primary, shadowScore: scores.shadow, weights };
      await learning.observe({
        type: 'judgement',
        kind: 'comparison',
        requestId,
        client: null,
        shared: false,
        verdicts: [
          {
            armId: primaryDecision.armId,
            context: primaryDecision.context,
            score: scores.primary,
            previous: previous?.primaryScore ?? null,
            costUsd: primary.metrics?.costUsd ?? 0,
            latencyMs: primary.metrics?.latencyMs ?? 0,
            weight: weights[0],
          },
          {
            armId: call.armId,
            context: call.context,
            score: scores.shadow,
            previous: previous?.shadowScore ?? null,
            costUsd: call.costUsd,
            latencyMs: call.latencyMs ?? 0,
            weight: weights[1],
          },
        ],
      });
      return {
        requestId,
        preferred,
        context: primaryDecision.context,
        primaryArm: router.arm(primaryDecision.armId, primaryDecision.context)!,
        shadowArm: router.arm(call.armId, call.context)!,
      };
    },

    async call(requestId) {
      const call = await find(requestId);
      return call ? view(call) : undefined;
    },

    stats,

    async setRate(next) {
      if (!(next >= 0 && next <= 1)) throw new ShadowError('INVALID_SHADOW_RATE', 'rate must be between 0 and 1');
      await learning.observe({ type: 'shadow-rate', rate: next });
      return stats();
    },

    applied(event) {
      if (!deps.spendFromLog || event.type !== 'outcome' || event.kind !== 'shadow' || counted.has(event.id)) return;
      if (event.at <= clock() - BUDGET_WINDOW_MS) return;
      // Oldest first, though instances' clocks and the stream order disagree by a few ms.
      let i = recentSpend.length;
      while (i > 0 && recentSpend[i - 1]!.at > event.at) i -= 1;
      recentSpend.splice(i, 0, { at: event.at, costUsd: event.costUsd, eventId: event.id });
      counted.add(event.id);
    },

    async close() {
      closed = true;
      const running = [...inFlight.values()];
      for (const { controller } of running) controller.abort();
      await Promise.all(running.map((r) => r.settled));
    },
  };
}
