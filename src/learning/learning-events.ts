/**
 * What the router can learn from, as events. Every instance turns what it observes (a pull, the
 * outcome of a call, a user's judgement, an operator's change) into one of these and appends it to
 * the event log; the learning state is whatever applying the log in order produces, so replicas
 * that apply the same log hold the same state. What each event teaches is decided in
 * learning-rules.ts and nowhere else.
 */

/** A routed request was sent to an arm (each failover attempt is a pull of its own). */
export interface PullEvent {
  readonly type: 'pull';
  readonly requestId: string;
  readonly armId: string;
  readonly context: string;
}

/**
 * How a call ended. primary: the user's own call; shadow: the background call of shadow routing;
 * cached: the answer came from the cache (it measures the cache, not the model); refused: the call,
 * a primary's or a shadow's, never reached the model (circuit open, Retry-After pending) or the
 * provider refused it as an invalid request (HTTP 400, 413, 422; see failedCallKind in learning-rules.ts).
 */
export type OutcomeKind = 'primary' | 'shadow' | 'cached' | 'refused';

export interface OutcomeEvent {
  readonly type: 'outcome';
  readonly kind: OutcomeKind;
  readonly requestId: string;
  readonly armId: string;
  readonly modelId: string;
  readonly context: string;
  readonly costUsd: number;
  /** The call's own latency (one attempt, not the whole request). */
  readonly latencyMs: number;
  /** Time to the first token from the call's start; null when none came. */
  readonly ttftMs: number | null;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly error: boolean;
}

/** One arm's score in a judgement, with the score by the same judge it replaces (null for the first). */
export interface Verdict {
  readonly armId: string;
  readonly context: string;
  readonly score: number;
  readonly previous: number | null;
  /** What the judged call cost and how long it took (the analyzer's reward is on the router's utility scale). */
  readonly costUsd: number;
  readonly latencyMs: number;
  /** The judge's weight in [0, 1] (src/learning/client-influence.ts), also of the score it replaces; absent: 1. */
  readonly weight?: number;
}

/**
 * A user's feedback on a request (one verdict) or a comparison of its primary and shadow answers
 * (two verdicts). `shared`: the answer came from the cache or another request's call, so it says
 * nothing about the arm that made it.
 */
export interface JudgementEvent {
  readonly type: 'judgement';
  readonly kind: 'feedback' | 'comparison';
  readonly requestId: string;
  /** Who judged: the client key id, null for a caller without a key. */
  readonly client: string | null;
  readonly shared: boolean;
  readonly verdicts: readonly Verdict[];
  /** The user's comment with feedback (kept with the request's record; it teaches nothing). */
  readonly comment?: string | null;
}

export interface ArmEnabledEvent {
  readonly type: 'arm-enabled';
  readonly armId: string;
  readonly enabled: boolean;
}

export interface ShadowRateEvent {
  readonly type: 'shadow-rate';
  readonly rate: number;
}

/** One logged outcome of an arm (warm start); cost and latency null when the log has none. */
export interface LoggedOutcome {
  readonly armId: string;
  readonly quality: number;
  readonly costUsd: number | null;
  readonly latencyMs: number | null;
}

/**
 * Outcomes logged before the router served them (eval runs, past logs, a leaderboard's per-prompt
 * results): a warm start. One event carries a whole batch, so a batch is learnt whole or not at all.
 */
export interface LoggedEvent {
  readonly type: 'logged';
  /** Live feedback scores one logged outcome is worth. */
  readonly weight: number;
  readonly rows: ReadonlyArray<{ readonly context: string; readonly outcomes: readonly LoggedOutcome[] }>;
}

export type LearningEventBody = PullEvent | OutcomeEvent | JudgementEvent | ArmEnabledEvent | ShadowRateEvent | LoggedEvent;

/** Identity every logged event carries. */
export interface EventEnvelope {
  /** Unique per event: the idempotency key that lets a retried append land exactly once. */
  readonly id: string;
  /** The instance that observed it. */
  readonly origin: string;
  /** Wall-clock ms when it was observed (diagnostics only: nothing learnt depends on it). */
  readonly at: number;
}

export type LearningEvent = LearningEventBody & EventEnvelope;
