import { createGrowingLru } from '../growing-lru.js';
import type { RouteDecision } from '../router/adaptive-router.js';
import type { RequestOwnership } from '../auth/request-access.js';
import type { RequestObjective } from '../router/objectives.js';
import type { ChatMetrics } from './chat-events.js';

/**
 * Completed and in-flight requests, remembered for feedback and for `request(id)`. Bounded in
 * count and age: feedback for a forgotten request is refused as expired.
 */

export type RequestStatus = 'streaming' | 'completed' | 'failed' | 'cancelled';

export interface FeedbackRecord {
  readonly score: number;
  /** The judge's weight it taught at (src/learning/client-influence.ts); a replacement reuses it. */
  readonly weight: number;
  readonly comment: string | null;
  readonly receivedAt: number;
}

/** Who may read it and give it feedback: see src/auth/request-access.ts. */
export interface RequestRecord extends RequestOwnership {
  readonly id: string;
  readonly createdAt: number;
  /** Hex SHA-256 of its feedback token; '' until the token is issued with the route (nothing can match it before). */
  tokenDigest: string;
  /** Who made it, for the weight of its feedback: the principal's client (key id or remote address). */
  readonly client: string | null;
  status: RequestStatus;
  decision: RouteDecision | null;
  /** The request's own trade-off (ChatInput.objective); null (or absent, in records kept before it existed): the configured one. */
  readonly objective?: RequestObjective | null;
  /** Served from the cache or from another request's upstream call: teaches the bandit nothing. */
  shared: boolean;
  cached: boolean;
  cacheKey: string | null;
  attempts: number;
  finishReason: string | null;
  errorCode: string | null;
  metrics: ChatMetrics | null;
  feedback: FeedbackRecord | null;
  /** The session it is listed under (see src/server/request-session.ts); null when the caller cannot be told apart. */
  readonly session: string | null;
}

export interface RequestStore {
  add(record: RequestRecord): void;
  /** A request this instance served (or restored), still remembered. */
  get(id: string): RequestRecord | undefined;
  /**
   * A request served here or, with a shared store, by any instance; throws a
   * RequestStoreUnavailableError when the shared store cannot be asked.
   */
  find(id: string): Promise<RequestRecord | undefined>;
  /** Makes the record's current state visible to other instances and restarts; never throws. */
  save(record: RequestRecord): Promise<void>;
  /**
   * The session's most recent requests still remembered (with a shared store, served by any
   * instance), newest first, at most `limit`; never throws (the shared part is left out while it
   * cannot be asked).
   */
  recent(session: string, limit: number): Promise<RequestRecord[]>;
  size(): number;
  /** Every record still remembered (compacting a journal of them). */
  all(): Iterable<RequestRecord>;
}

/** Requests listed per session: recentRequests is a look back, not an archive. */
export const MAX_RECENT_PER_SESSION = 100;

/** The shared store of request records cannot be reached: whether a request exists is unknown for now. */
export class RequestStoreUnavailableError extends Error {
  override readonly name = 'RequestStoreUnavailableError';
}

export function createRequestStore(options: {
  maxRequests: number;
  ttlMs: number;
  /** Where finished records are kept across restarts (the embedded journal); resolves once durable. */
  persist?: (record: RequestRecord) => Promise<void>;
}): RequestStore {
  const records = createGrowingLru<string, RequestRecord>(options.maxRequests, {
    ttl: options.ttlMs,
    // Feedback must not keep an old request alive past its window.
    updateAgeOnGet: false,
  });
  // Newest last. Bounded like the records: one list per session, and no more sessions than records.
  const idsBySession = createGrowingLru<string, string[]>(options.maxRequests);
  return {
    add(record) {
      records.set(record.id, record);
      if (record.session === null) return;
      const ids = idsBySession.get(record.session) ?? [];
      ids.push(record.id);
      if (ids.length > MAX_RECENT_PER_SESSION) ids.shift();
      idsBySession.set(record.session, ids);
    },
    get: (id) => records.get(id),
    find: async (id) => records.get(id),
    save: async (record) => {
      await options.persist?.(record);
    },
    all: () => records.values(),
    async recent(session, limit) {
      const ids = idsBySession.get(session) ?? [];
      const found: RequestRecord[] = [];
      for (let i = ids.length - 1; i >= 0 && found.length < limit; i--) {
        const record = records.get(ids[i]!);
        if (record) found.push(record);
      }
      return found;
    },
    size: () => records.size,
  };
}
