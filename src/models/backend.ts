/**
 * The one streaming interface every model backend implements. Nothing here knows about GraphQL,
 * routing or caching: a backend turns messages into a stream of events and reports failures as
 * {@link UpstreamError}s.
 */

import type { StopSignal } from '../stop-signal.js';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export interface CompletionRequest {
  readonly messages: readonly ChatMessage[];
  readonly maxTokens: number;
  readonly temperature?: number | undefined;
  /** Aborting it must stop the upstream call at once (close the socket, stop timers). */
  readonly signal: AbortSignal;
  /**
   * The same stop as `signal`, for a backend that only watches it (the simulated one): the model
   * manager makes `signal`, a Node AbortSignal, only when a backend reads it.
   */
  readonly stop?: StopSignal | undefined;
  /**
   * Called by a backend once its upstream has sent all it will send, when it still has local work
   * to do before the stream ends (counting tokens): that work is not the upstream's, so no upstream
   * deadline covers it.
   */
  readonly upstreamComplete?: (() => void) | undefined;
}

/**
 * A model call as the model manager takes it: the caller's stop may be any StopSignal (a chat's
 * is not Node's AbortSignal); each backend call gets an AbortSignal of its own.
 */
export interface ModelCallRequest extends Omit<CompletionRequest, 'signal' | 'stop' | 'upstreamComplete'> {
  readonly signal: StopSignal;
}

export type CompletionEvent =
  | { readonly type: 'token'; readonly text: string }
  /**
   * Emitted once, before the stream ends. `estimated` is true when the provider reported no usage
   * and the backend counted tokens itself with a tokenizer.
   */
  | {
      readonly type: 'usage';
      readonly promptTokens: number;
      readonly completionTokens: number;
      readonly estimated: boolean;
    }
  | { readonly type: 'finish'; readonly reason: string };

export interface ModelPricing {
  /** USD per 1,000 prompt tokens. */
  readonly inputPer1k: number;
  /** USD per 1,000 completion tokens. */
  readonly outputPer1k: number;
}

export interface ModelBackend {
  readonly id: string;
  readonly provider: string;
  readonly pricing: ModelPricing;
  /** May return {@link BatchedEvents}, which callers read batch by batch through {@link batchesOf}. */
  stream(request: CompletionRequest): AsyncIterable<CompletionEvent>;
}

/**
 * A stream that can also be read in batches: every event ready at one moment (all the tokens of
 * one network read) in one non-empty array, so a reader pays one await per batch, not one per
 * token. It is an ordinary event stream too, so a wrapper that passes it on unchanged keeps the
 * batches, and one that maps its events makes an ordinary stream.
 */
export interface BatchedEvents extends AsyncIterable<CompletionEvent> {
  batches(): AsyncIterable<readonly CompletionEvent[]>;
}

export function batchedEvents(batches: () => AsyncIterable<readonly CompletionEvent[]>): BatchedEvents {
  return new BatchedStream(batches);
}

/**
 * A class rather than a literal with a computed `[Symbol.asyncIterator]` key: V8 gives a function
 * made under a computed key an own `name` (a property and a string per object), and a chat
 * waiting for its first token holds one of these.
 */
class BatchedStream implements BatchedEvents {
  constructor(readonly batches: () => AsyncIterable<readonly CompletionEvent[]>) {}

  [Symbol.asyncIterator](): AsyncIterator<CompletionEvent> {
    return eventsOf(this.batches())[Symbol.asyncIterator]();
  }
}

async function* eventsOf(batches: AsyncIterable<readonly CompletionEvent[]>): AsyncGenerator<CompletionEvent> {
  for await (const batch of batches) yield* batch;
}

/** A stream's batches: its own when it has them, else one event per batch. */
export function batchesOf(events: AsyncIterable<CompletionEvent>): AsyncIterable<readonly CompletionEvent[]> {
  return 'batches' in events && typeof events.batches === 'function'
    ? (events as BatchedEvents).batches()
    : singleEventBatches(events);
}

async function* singleEventBatches(events: AsyncIterable<CompletionEvent>): AsyncGenerator<readonly CompletionEvent[]> {
  for await (const event of events) yield [event];
}

export function costUsd(pricing: ModelPricing, promptTokens: number, completionTokens: number): number {
  return (promptTokens * pricing.inputPer1k + completionTokens * pricing.outputPer1k) / 1000;
}

export type UpstreamErrorCode =
  | 'UPSTREAM_CONNECT_TIMEOUT'
  | 'UPSTREAM_FIRST_TOKEN_TIMEOUT'
  | 'UPSTREAM_IDLE_TIMEOUT'
  | 'UPSTREAM_TOTAL_TIMEOUT'
  | 'UPSTREAM_RATE_LIMITED'
  | 'UPSTREAM_HTTP_ERROR'
  | 'UPSTREAM_CONNECTION_ERROR'
  | 'UPSTREAM_PROTOCOL_ERROR'
  | 'UPSTREAM_ERROR'
  | 'MODEL_UNAVAILABLE'
  /** This instance has as many calls to the model (or in all) in flight as it takes on. */
  | 'OVERLOADED';

export interface UpstreamErrorOptions {
  /** Worth trying another arm (connection refused, 429, 5xx, timeouts before the first token). */
  readonly retryable: boolean;
  readonly status?: number | undefined;
  /** From a `Retry-After` header: how long this model should not be asked again. */
  readonly retryAfterMs?: number | undefined;
  readonly cause?: unknown;
}

/**
 * The provider refused this request as invalid (HTTP 400, 413, 422: a prompt past the model's
 * context window, a parameter it does not take): a fault of the request, not of the model. The
 * one classification of such refusals: the breaker does not count them (model-manager.ts), or one
 * caller's requests would open the circuit for every caller, and the bandit learns nothing from
 * them (failedCallKind in learning-rules.ts).
 */
export function refusedAsInvalid(error: unknown): boolean {
  return error instanceof UpstreamError && (error.status === 400 || error.status === 413 || error.status === 422);
}

/** A failure of a model call. Its message must never contain credentials. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  readonly code: UpstreamErrorCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: UpstreamErrorCode, message: string, options: UpstreamErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }
}
