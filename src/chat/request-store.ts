import { LRUCache } from 'lru-cache';
import type { RouteDecision } from '../router/adaptive-router.js';
import type { ChatMetrics } from './chat-events.js';

/**
 * Completed and in-flight requests, remembered for feedback and for `request(id)`. Bounded in
 * count and age: feedback for a forgotten request is refused as expired.
 */

export type RequestStatus = 'streaming' | 'completed' | 'failed' | 'cancelled';

export interface FeedbackRecord {
  readonly score: number;
  readonly comment: string | null;
  readonly receivedAt: number;
}

export interface RequestRecord {
  readonly id: string;
  readonly createdAt: number;
  /** The client key id that made the request; null for a caller without a key. */
  readonly owner: string | null;
  status: RequestStatus;
  decision: RouteDecision | null;
  /** Served from the cache or from another request's upstream call: teaches the bandit nothing. */
  shared: boolean;
  cached: boolean;
  cacheKey: string | null;
  attempts: number;
  finishReason: string | null;
  errorCode: string | null;
  metrics: ChatMetrics | null;
  feedback: FeedbackRecord | null;
}

export interface RequestStore {
  add(record: RequestRecord): void;
  get(id: string): RequestRecord | undefined;
  /** True when the id was seen but has expired or been evicted. */
  size(): number;
}

export function createRequestStore(options: { maxRequests: number; ttlMs: number }): RequestStore {
  const records = new LRUCache<string, RequestRecord>({
    max: options.maxRequests,
    ttl: options.ttlMs,
    // Feedback must not keep an old request alive past its window.
    updateAgeOnGet: false,
  });
  return {
    add: (record) => void records.set(record.id, record),
    get: (id) => records.get(id),
    size: () => records.size,
  };
}
