import type { CacheManager } from '../cache/cache-manager.js';
import type { SwitchyardConfig } from '../config/schema.js';
import type { Learning } from '../learning/learning.js';
import type { OutcomeEvent } from '../learning/learning-events.js';
import type { Logger } from '../logger.js';
import { batchesOf, costUsd, UpstreamError } from '../models/backend.js';
import { completionRequestFor } from '../models/arm-request.js';
import type { ModelManager } from '../models/model-manager.js';
import type { AdaptiveRouter, RouteDecision } from '../router/adaptive-router.js';
import type { ShadowRouter } from '../router/shadow-router.js';
import type { StopSignal } from '../stop-signal.js';
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

export type AnswerProducer = (
  requestId: string,
  request: ChatRequest,
  decision: RouteDecision,
  /** Where a complete answer is stored; null when the request bypasses the cache. */
  cacheKey: string | null,
  signal: StopSignal,
) => AsyncGenerator<AnswerEvent>;

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
}

export function createAnswerProducer(deps: AnswerProducerDeps): AnswerProducer {
  const { config, router, models, cache, learning, logger, now } = deps;
  const armsById = new Map(config.arms.map((arm) => [arm.id, arm]));

  const outcome = (
    requestId: string,
    decision: RouteDecision,
    measured: Omit<OutcomeEvent, 'type' | 'requestId' | 'armId' | 'modelId' | 'context'>,
  ) =>
    void learning.observe({
      type: 'outcome',
      requestId,
      armId: decision.armId,
      modelId: decision.modelId,
      context: decision.context,
      ...measured,
    });

  /**
   * An arm that fails before its first token is penalised and the next arm by posterior is tried,
   * up to `router.maxAttempts`. Once tokens flow, a failure ends the answer: splicing a second
   * model into it would be worse than an honest error.
   */
  return async function* produceAnswer(requestId, request, firstDecision, cacheKey, signal) {
    deps.shadow?.consider({ requestId, decision: firstDecision, request });
    const started = now();
    const excluded = new Set<string>();
    let decision: RouteDecision | null = firstDecision;
    let attempts = 0;
    let lastError: { code: string; message: string } = { code: 'NO_ARM_AVAILABLE', message: 'no arm answered' };

    while (decision !== null && attempts < config.router.maxAttempts) {
      attempts += 1;
      void learning.observe({ type: 'pull', requestId, armId: decision.armId, context: decision.context });
      const arm = armsById.get(decision.armId)!;
      const attemptStarted = now();
      let ttftMs: number | null = null;
      let text = '';
      let completionTokens = 0;
      let usage: { promptTokens: number; completionTokens: number; estimated: boolean } | null = null;
      let finishReason = 'stop';
      try {
        const batches = batchesOf(
          models.stream(decision.modelId, completionRequestFor(arm, request, config.limits.defaultMaxTokens, signal)),
        );
        for await (const batch of batches) {
          let texts: string[] | null = null;
          for (const event of batch) {
            if (event.type === 'token') {
              (texts ??= []).push(event.text);
              text += event.text;
              completionTokens += 1;
            } else if (event.type === 'usage') {
              usage = event;
            } else {
              finishReason = event.reason;
            }
          }
          if (texts === null) continue;
          if (ttftMs === null) {
            ttftMs = now() - started;
            yield { type: 'route', decision, attempts };
          }
          yield { type: 'tokens', texts };
        }
      } catch (error) {
        if (signal.aborted) throw error;
        const upstream =
          error instanceof UpstreamError
            ? error
            : new UpstreamError('UPSTREAM_ERROR', 'the model call failed', { retryable: false, cause: error });
        if (!(error instanceof UpstreamError)) logger.error({ err: error, arm: decision.armId }, 'model call failed');
        outcome(requestId, decision, {
          // A refused call (circuit open, Retry-After pending, this instance full) never reached the model.
          kind: upstream.code === 'MODEL_UNAVAILABLE' || upstream.code === 'OVERLOADED' ? 'refused' : 'primary',
          latencyMs: now() - attemptStarted,
          ttftMs: ttftMs === null ? null : ttftMs - (attemptStarted - started),
          promptTokens: 0,
          completionTokens,
          costUsd: 0,
          error: true,
        });
        lastError = { code: upstream.code, message: upstream.message };
        logger.warn({ arm: decision.armId, code: upstream.code, attempt: attempts }, 'model call failed');
        if (ttftMs !== null) {
          yield { type: 'failure', ...lastError, partial: true, attempts };
          return;
        }
        // Stop before asking for an arm that will not be tried, so `decision` names the last one tried.
        if (!upstream.retryable || attempts >= config.router.maxAttempts) break;
        excluded.add(decision.armId);
        const next = router.failover(decision, excluded);
        if (next === null) break;
        decision = next;
        continue;
      }

      if (ttftMs === null) yield { type: 'route', decision, attempts };
      const promptTokens = usage?.promptTokens ?? 0;
      const finalCompletionTokens = usage?.completionTokens ?? completionTokens;
      const cost = costUsd(models.view(decision.modelId).pricing, promptTokens, finalCompletionTokens);
      const latencyMs = now() - started;
      const attemptLatencyMs = now() - attemptStarted;
      outcome(requestId, decision, {
        kind: 'primary',
        latencyMs: attemptLatencyMs,
        ttftMs: ttftMs === null ? null : ttftMs - (attemptStarted - started),
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
        reward: router.rewardOf({ costUsd: cost, latencyMs, error: false }, null),
      };
      // The serving arm's own temperature may be too high to cache, even if the request's was not.
      if (cacheKey !== null && cache.cacheable(request.temperature ?? arm.temperature)) {
        void cache.set(cacheKey, {
          text,
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
      yield { type: 'end', finishReason, attempts, metrics };
      return;
    }
    // Every answer begins with a route, a failed one too: it names the last arm tried.
    if (decision !== null) yield { type: 'route', decision, attempts };
    yield { type: 'failure', ...lastError, partial: false, attempts };
  };
}
