import type { RequestRecord } from './request-store.js';

/**
 * The one log line of a finished request, for operators: what served it, how long it took, what
 * it cost and how it ended. Nothing of the prompt or the answer.
 */
export function finishedRequestLog(record: RequestRecord, now: number = Date.now()) {
  const { decision, metrics } = record;
  return {
    requestId: record.id,
    // A stream left before its end keeps 'streaming' on a cache hit: the client went away.
    status: record.status === 'streaming' ? 'cancelled' : record.status,
    arm: decision?.armId ?? null,
    model: decision?.modelId ?? null,
    context: decision?.context ?? null,
    cached: record.cached,
    shared: record.shared && !record.cached,
    attempts: record.attempts,
    latencyMs: Math.round(metrics?.latencyMs ?? now - record.createdAt),
    ttftMs: metrics?.ttftMs == null ? null : Math.round(metrics.ttftMs),
    costUsd: metrics?.costUsd ?? 0,
    tokens: metrics ? metrics.promptTokens + metrics.completionTokens : null,
    ...(record.errorCode === null ? { finishReason: record.finishReason } : { errorCode: record.errorCode }),
  };
}
