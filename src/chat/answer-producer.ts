import type { CacheManager } from '../cache/cache-manager.js';
import type { ArmConfig, SwitchyardConfig } from '../config/schema.js';
import type { Learning } from '../learning/learning.js';
import type { OutcomeEvent } from '../learning/learning-events.js';
import { failedCallKind } from '../learning/learning-rules.js';
import type { Logger } from '../logger.js';
import { batchesOf, costUsd, UpstreamError, type CompletionEvent } from '../models/backend.js';
import { completionRequestFor } from '../models/arm-request.js';
import type { ModelManager } from '../models/model-manager.js';
import type { AdaptiveRouter, RouteDecision } from '../router/adaptive-router.js';
import type { ShadowRouter } from '../router/shadow-router.js';
import { DONE, isSinkReadable, type ReadSink, type SinkReadable } from '../read-sink.js';
import type { StopSignal } from '../stop-signal.js';
import type { AfterDispatch, DeferredWork } from './after-dispatch.js';
import type { ChatMetrics, ChatRequest } from './chat-events.js';

/**
 * Produces one upstream answer for a routed request: calls the model, fails over to the next arm
 * when one fails before its first token, and reports what each call measured as learning
 * events. The answer is produced once and may be watched by several clients (single flight).
 */

export type AnswerEvent =
  | { readonly type: 'route'; readonly decision: RouteDecision; readonly attempts: number }
  /** The tokens of one upstream batch (one network read), in order; never empty. */
  | { readonly type: 'tokens'; readonly texts: readonly string[] }
  | {
      readonly type: 'end';
      readonly finishReason: string;
      readonly attempts: number;
      readonly metrics: ChatMetrics;
    }
  | {
      readonly type: 'failure';
      readonly code: string;
      readonly message: string;
      readonly partial: boolean;
      readonly attempts: number;
    };

/** An answer's events; `return()` stops it (and its model call) at once. */
export interface AnswerStream extends AsyncIterableIterator<AnswerEvent>, SinkReadable<AnswerEvent> {
  return(): Promise<IteratorResult<AnswerEvent>>;
}

export type AnswerProducer = (
  requestId: string,
  request: ChatRequest,
  decision: RouteDecision,
  /** Where a complete answer is stored; null when the request bypasses the cache. */
  cacheKey: string | null,
  signal: StopSignal,
) => AnswerStream;

export interface AnswerProducerDeps {
  readonly config: Pick<SwitchyardConfig, 'arms' | 'limits' | 'router'>;
  readonly router: AdaptiveRouter;
  readonly models: ModelManager;
  readonly cache: CacheManager;
  readonly learning: Pick<Learning, 'observe'>;
  /** Sends a share of fresh routed requests to a second arm in the background. */
  readonly shadow?: ShadowRouter | undefined;
  readonly logger: Logger;
  readonly now: () => number;
  /** Where the attempt's pull waits for its request to be written; without it, it is observed at once. */
  readonly afterDispatch?: AfterDispatch | undefined;
}

interface ProducerContext extends AnswerProducerDeps {
  readonly armsById: ReadonlyMap<string, ArmConfig>;
}

type Batch = readonly CompletionEvent[];

/** The failure of an answer no arm was tried for. */
const NO_ARM_ANSWERED = Object.freeze({ code: 'NO_ARM_AVAILABLE', message: 'no arm answered' });

export function createAnswerProducer(deps: AnswerProducerDeps): AnswerProducer {
  const context: ProducerContext = { ...deps, armsById: new Map(deps.config.arms.map((arm) => [arm.id, arm])) };
  return (requestId, request, decision, cacheKey, signal) => {
    deps.shadow?.consider({ requestId, decision, request });
    return new AnswerProduction(context, requestId, request, decision, cacheKey, signal);
  };
}

/**
 * One answer in the making. An arm that fails before its first token is penalised and the next
 * arm by posterior is tried, up to `router.maxAttempts`. Once tokens flow, a failure ends the
 * answer: splicing a second model into it would be worse than an honest error.
 *
 * One object per answer rather than an async generator: events made by one batch (a route and
 * the first tokens) wait in a queue and are handed out without a wait, and a read is answered
 * straight to its reader (`readTo`) by the model call's, which answers this object the same way:
 * no promise of ours while the first token is awaited (a generator would hold its register file, a
 * context, and a promise and two closures per await).
 */
class AnswerProduction implements AnswerStream, ReadSink<Batch>, DeferredWork {
  private readonly started: number;
  /** Arms that failed before their first token; made at the first failover. */
  private excluded: Set<string> | null = null;
  private decision: RouteDecision | null;
  private attempts = 0;
  private lastError: { readonly code: string; readonly message: string } = NO_ARM_ANSWERED;
  /** The current attempt's batches; null between attempts. */
  private batches: AsyncIterator<Batch> | null = null;
  private arm: ArmConfig | null = null;
  /** The current attempt's pull, not yet observed (see `observePull`). */
  private pullUnobserved = false;
  private attemptStarted = 0;
  private ttftMs: number | null = null;
  private text = '';
  private completionTokens = 0;
  private usage: { promptTokens: number; completionTokens: number; estimated: boolean } | null = null;
  private finishReason = 'stop';
  /** Events made and not yet handed out, from `head`; made with the first event. */
  private queue: AnswerEvent[] | null = null;
  private head = 0;
  /** No event will be made any more (what is queued is still handed out). */
  private finished = false;
  /** The consumer stopped reading: nothing more is handed out. */
  private returned = false;
  /** A failure to hand out once the queue is empty (the caller's abort, an unexpected error). */
  private error: { error: unknown } | null = null;
  /** Whose read is being answered (the model is read for it); null when none is. */
  private sink: ReadSink<AnswerEvent> | null = null;
  /** Reads asked for while one is being answered, in order. */
  private queued: ReadSink<AnswerEvent>[] | null = null;

  constructor(
    private readonly deps: ProducerContext,
    private readonly requestId: string,
    private readonly request: ChatRequest,
    firstDecision: RouteDecision,
    private readonly cacheKey: string | null,
    private readonly signal: StopSignal,
  ) {
    this.started = deps.now();
    this.decision = firstDecision;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** A queued event at once; otherwise a promise answered by `readTo`. */
  next(): Promise<IteratorResult<AnswerEvent>> {
    if (this.sink === null) {
      try {
        const ready = this.take();
        if (ready !== null) return Promise.resolve(ready);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((onRead, onReadError) => this.readTo({ onRead, onReadError }));
  }

  /**
   * Answers `sink` with a queued event at once, or reads the model for it: the model call's read
   * settles at once on an abort, a deadline or return() (see withStreamTimeouts).
   */
  readTo(sink: ReadSink<AnswerEvent>): void {
    if (this.sink !== null) {
      (this.queued ??= []).push(sink);
      return;
    }
    this.sink = sink;
    this.pull();
  }

  /** A read in flight is answered with the end at once. */
  return(): Promise<IteratorResult<AnswerEvent>> {
    this.returned = this.finished = true;
    this.queue = null;
    this.head = 0;
    this.error = null;
    const { sink, queued } = this;
    this.sink = this.queued = null;
    this.stopBatches();
    sink?.onRead(DONE);
    if (queued !== null) for (const waiting of queued) waiting.onRead(DONE);
    return Promise.resolve(DONE);
  }

  /** What can be handed out without reading the model: a queued event, the end, or a failure (thrown). */
  private take(): IteratorResult<AnswerEvent> | null {
    const { queue } = this;
    if (queue !== null && this.head < queue.length) {
      const value = queue[this.head++]!;
      if (this.head === queue.length) queue.length = this.head = 0;
      return { done: false, value };
    }
    if (this.error !== null) {
      const { error } = this.error;
      this.error = null;
      throw error;
    }
    return this.finished ? DONE : null;
  }

  private emit(event: AnswerEvent): void {
    (this.queue ??= []).push(event);
  }

  private fail(error: unknown): void {
    this.finished = true;
    this.error = { error };
    this.stopBatches();
  }

  private stopBatches(): void {
    const { batches } = this;
    this.batches = null;
    // Fire and forget: the timed iterator aborts its model call at once.
    batches?.return?.().catch(() => undefined);
  }

  /**
   * Answers the waiting sink with what can be handed out, starting an attempt (or ending the
   * answer) when none runs, or reads the model's next batch for it.
   */
  private pull(): void {
    let ready: IteratorResult<AnswerEvent> | null;
    try {
      ready = this.take();
    } catch (failure) {
      return this.answer(null, failure);
    }
    if (ready === null) {
      try {
        if (this.batches !== null || this.startAttempt()) return this.readBatches();
        ready = this.take()!;
      } catch (error) {
        this.fail(error);
        return this.answer(null, this.takeError());
      }
    }
    this.answer(ready, undefined);
  }

  /** The waiting sink gets `result` (or, when null, `error`); a read queued behind it is served next. */
  private answer(result: IteratorResult<AnswerEvent> | null, error: unknown): void {
    const sink = this.sink!;
    this.sink = null;
    if (result === null) sink.onReadError(error);
    else sink.onRead(result);
    if (this.sink !== null || this.queued === null) return;
    const next = this.queued.shift();
    if (this.queued.length === 0) this.queued = null;
    if (next !== undefined) this.readTo(next);
  }

  private readBatches(): void {
    const batches = this.batches!;
    if (isSinkReadable<Batch>(batches)) batches.readTo(this);
    else
      batches.next().then(
        (result) => this.onRead(result),
        (error: unknown) => this.onReadError(error),
      );
    if (!this.pullUnobserved) return;
    if (this.deps.afterDispatch) this.deps.afterDispatch(this);
    else this.observePull();
  }

  runDeferred(): void {
    this.observePull();
  }

  /**
   * The attempt's pull goes to learning once its first read has dispatched the upstream request
   * (the read does, synchronously), after the request is written (afterDispatch), not before: the
   * request does not wait for the event, its journal line and the analyzer. Before anything else
   * the attempt tells learning (a failure, a batch), it is observed, so the pull still comes first.
   */
  private observePull(): void {
    if (!this.pullUnobserved) return;
    this.pullUnobserved = false;
    const decision = this.decision!;
    void this.deps.learning.observe({ type: 'pull', requestId: this.requestId, armId: decision.armId, context: decision.context });
  }

  private takeError(): unknown {
    const { error } = this.error!;
    this.error = null;
    return error;
  }

  /** False when no attempt is left: the answer ends with a failure naming the last arm tried. */
  private startAttempt(): boolean {
    const { deps, decision } = this;
    if (decision === null || this.attempts >= deps.config.router.maxAttempts) {
      // Every answer begins with a route, a failed one too: it names the last arm tried.
      if (decision !== null) this.emit({ type: 'route', decision, attempts: this.attempts });
      this.emit({ type: 'failure', ...this.lastError, partial: false, attempts: this.attempts });
      this.finished = true;
      return false;
    }
    this.attempts += 1;
    this.pullUnobserved = true;
    const arm = deps.armsById.get(decision.armId)!;
    this.arm = arm;
    this.attemptStarted = deps.now();
    this.ttftMs = null;
    this.text = '';
    this.completionTokens = 0;
    this.usage = null;
    this.finishReason = 'stop';
    try {
      this.batches = batchesOf(
        deps.models.stream(decision.modelId, completionRequestFor(arm, this.request, deps.config.limits.defaultMaxTokens, this.signal)),
      )[Symbol.asyncIterator]();
    } catch (error) {
      this.batches = null;
      this.observePull();
      this.onFailedAttempt(error);
      return this.finished ? false : this.startAttempt();
    }
    return true;
  }

  /** The model's batch (ReadSink). */
  onRead(result: IteratorResult<Batch>): void {
    this.observePull();
    if (this.returned || this.sink === null) return;
    try {
      if (result.done) this.completed();
      else this.readBatch(result.value);
    } catch (error) {
      this.fail(error);
    }
    this.pull();
  }

  /** The model call failed (ReadSink). */
  onReadError(error: unknown): void {
    this.observePull();
    if (this.returned || this.sink === null) return;
    this.batches = null;
    try {
      this.onFailedAttempt(error);
    } catch (unexpected) {
      this.fail(unexpected);
    }
    this.pull();
  }

  /** A batch's tokens: the route first if they are the answer's first, then the tokens. */
  private readBatch(batch: Batch): void {
    let texts: string[] | null = null;
    for (const event of batch) {
      if (event.type === 'token') {
        (texts ??= []).push(event.text);
        this.text += event.text;
        this.completionTokens += 1;
      } else if (event.type === 'usage') {
        this.usage = event;
      } else {
        this.finishReason = event.reason;
      }
    }
    if (texts === null) return;
    if (this.ttftMs === null) {
      this.ttftMs = this.deps.now() - this.started;
      this.emit({ type: 'route', decision: this.decision!, attempts: this.attempts });
    }
    this.emit({ type: 'tokens', texts });
  }

  private onFailedAttempt(error: unknown): void {
    const { deps } = this;
    const decision = this.decision!;
    if (this.signal.aborted) return this.fail(error);
    const upstream =
      error instanceof UpstreamError
        ? error
        : new UpstreamError('UPSTREAM_ERROR', 'the model call failed', { retryable: false, cause: error });
    if (!(error instanceof UpstreamError)) deps.logger.error({ err: error, arm: decision.armId }, 'model call failed');
    this.outcome({
      // What a failure teaches (a refusal, the caller's invalid request: nothing) is the learning rules' call.
      kind: failedCallKind(upstream),
      latencyMs: deps.now() - this.attemptStarted,
      ttftMs: this.ttftMs === null ? null : this.ttftMs - (this.attemptStarted - this.started),
      promptTokens: 0,
      completionTokens: this.completionTokens,
      costUsd: 0,
      error: true,
    });
    this.lastError = { code: upstream.code, message: upstream.message };
    deps.logger.warn({ arm: decision.armId, code: upstream.code, attempt: this.attempts }, 'model call failed');
    if (this.ttftMs !== null) {
      this.emit({ type: 'failure', ...this.lastError, partial: true, attempts: this.attempts });
      this.finished = true;
      return;
    }
    // Stop before asking for an arm that will not be tried, so `decision` names the last one tried.
    if (!upstream.retryable || this.attempts >= deps.config.router.maxAttempts) return this.giveUp();
    const excluded = (this.excluded ??= new Set());
    excluded.add(decision.armId);
    const next = deps.router.failover(decision, excluded);
    if (next === null) return this.giveUp();
    this.decision = next;
  }

  /** No further arm is tried: the answer ends with a failure naming the last arm tried. */
  private giveUp(): void {
    this.emit({ type: 'route', decision: this.decision!, attempts: this.attempts });
    this.emit({ type: 'failure', ...this.lastError, partial: false, attempts: this.attempts });
    this.finished = true;
  }

  private completed(): void {
    const { deps, request, cacheKey, ttftMs, usage, finishReason } = this;
    const decision = this.decision!;
    const arm = this.arm!;
    this.batches = null;
    this.finished = true;
    if (ttftMs === null) this.emit({ type: 'route', decision, attempts: this.attempts });
    const promptTokens = usage?.promptTokens ?? 0;
    const finalCompletionTokens = usage?.completionTokens ?? this.completionTokens;
    const cost = costUsd(deps.models.view(decision.modelId).pricing, promptTokens, finalCompletionTokens);
    const latencyMs = deps.now() - this.started;
    const attemptLatencyMs = deps.now() - this.attemptStarted;
    this.outcome({
      kind: 'primary',
      latencyMs: attemptLatencyMs,
      ttftMs: ttftMs === null ? null : ttftMs - (this.attemptStarted - this.started),
      promptTokens,
      completionTokens: finalCompletionTokens,
      costUsd: cost,
      error: false,
    });
    const metrics: ChatMetrics = {
      latencyMs,
      ttftMs,
      promptTokens,
      completionTokens: finalCompletionTokens,
      tokensEstimated: usage?.estimated ?? true,
      costUsd: cost,
      reward: deps.router.rewardOf({ costUsd: cost, latencyMs, error: false }, null),
    };
    // The serving arm's own temperature may be too high to cache, even if the request's was not.
    if (cacheKey !== null && deps.cache.cacheable(request.temperature ?? arm.temperature)) {
      void deps.cache.set(cacheKey, {
        text: this.text,
        armId: decision.armId,
        modelId: decision.modelId,
        finishReason,
        promptTokens,
        completionTokens: finalCompletionTokens,
        costUsd: cost,
        latencyMs,
        ttftMs: ttftMs ?? latencyMs,
        createdAt: Date.now(),
      });
    }
    this.emit({ type: 'end', finishReason, attempts: this.attempts, metrics });
  }

  private outcome(measured: Omit<OutcomeEvent, 'type' | 'requestId' | 'armId' | 'modelId' | 'context'>): void {
    const decision = this.decision!;
    void this.deps.learning.observe({
      type: 'outcome',
      requestId: this.requestId,
      armId: decision.armId,
      modelId: decision.modelId,
      context: decision.context,
      ...measured,
    });
  }
}
