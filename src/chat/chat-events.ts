import type { RequestObjective } from '../router/objectives.js';
import type { RouteExplanation } from '../router/route-explanation.js';
import type { ChatMessage } from '../models/backend.js';

/** What the chat service takes and emits, independent of any transport. */

export interface ChatRequest {
  readonly messages: readonly ChatMessage[];
  readonly tags?: readonly string[] | undefined;
  /** Pins an arm, bypassing the bandit. */
  readonly armId?: string | undefined;
  readonly maxTokens?: number | undefined;
  readonly temperature?: number | undefined;
  /** False bypasses the cache for this request. */
  readonly cache?: boolean | undefined;
  /** This request's trade-off of quality against cost and latency; absent: the configured one. */
  readonly objective?: RequestObjective | undefined;
  /**
   * Explain the routing decision (ChatRouteEvent.explanation, kept for request(id)); off, no
   * explanation work is done.
   */
  readonly explain?: boolean | undefined;
  /** The client key id making the request (null: no key); only it (or an admin) may read it or give feedback. */
  readonly owner?: string | null | undefined;
  /** The caller's client identity (src/auth/principal.ts): whose influence its feedback counts against. */
  readonly client?: string | null | undefined;
  /** The session the request is listed under for recentRequests (see src/server/request-session.ts). */
  readonly session?: string | null | undefined;
}

export interface ChatMetrics {
  readonly latencyMs: number;
  readonly ttftMs: number | null;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** True when the provider reported no usage and tokens were counted with a tokenizer. */
  readonly tokensEstimated: boolean;
  readonly costUsd: number;
  /** The request's utility on the router's scale: 1 − penalty before feedback, score − penalty after. */
  readonly reward: number | null;
}

export interface ChatRouteEvent {
  readonly type: 'route';
  readonly requestId: string;
  readonly armId: string;
  readonly modelId: string;
  readonly context: string;
  readonly confidence: number;
  /** Why this arm; null unless the request asked (ChatRequest.explain). */
  readonly explanation: RouteExplanation | null;
  readonly cached: boolean;
  readonly attempts: number;
  /** Proves, without a client key, that the request is the caller's (see src/auth/request-access.ts). */
  readonly feedbackToken: string;
}

export interface ChatChunkEvent {
  readonly type: 'chunk';
  readonly requestId: string;
  readonly index: number;
  readonly text: string;
  readonly words: number;
}

export interface ChatDoneEvent {
  readonly type: 'done';
  readonly requestId: string;
  /** The route event's, again: feedback comes after the end, and some clients keep only the last event. */
  readonly feedbackToken: string;
  readonly finishReason: string;
  readonly attempts: number;
  readonly chunks: number;
  readonly metrics: ChatMetrics;
}

export interface ChatErrorEvent {
  readonly type: 'error';
  readonly requestId: string;
  readonly code: string;
  readonly message: string;
  /** True when part of an answer had been sent before the failure. */
  readonly partial: boolean;
  readonly attempts: number;
}

export type ChatEvent = ChatRouteEvent | ChatChunkEvent | ChatDoneEvent | ChatErrorEvent;
