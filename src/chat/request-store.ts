import { z } from 'zod';
import { createGrowingLru } from '../growing-lru.js';
import { invalid } from '../learning/learning-format.js';
import { createFirstOfKind, type Logger } from '../logger.js';
import type { RouteDecision } from '../router/adaptive-router.js';
import type { RequestOwnership } from '../auth/request-access.js';
import type { RequestObjective } from '../router/objectives.js';
import type { ChatMetrics } from './chat-events.js';
import { createRecordRows } from './record-rows.js';

/**
 * Completed and in-flight requests, remembered for feedback and for `request(id)`. Bounded in
 * count and age: feedback for a forgotten request is refused as expired. Finished ones are kept
 * compact (src/chat/record-rows.ts) and read back as new objects: their feedback and metrics change
 * through the store (`update`), not through a copy read.
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

const count = z.number().finite().nonnegative();
const unit = z.number().min(0).max(1);
const nullableText = z.string().nullable();

/**
 * The one description of a request record kept outside this process (shared through Redis, field
 * `r`, without its feedback; journaled beside the state file, with it): a record this version
 * cannot read (another version's, a buggy writer's) is no record rather than a thrown error or a
 * half-filled answer. Fields it does not know are dropped (a newer version's).
 */
export const storedRequestRecordSchema = z.object({
  id: z.string().min(1),
  createdAt: count,
  owner: nullableText,
  tokenDigest: z.string(),
  client: nullableText,
  status: z.enum(['streaming', 'completed', 'failed', 'cancelled']),
  decision: z
    .object({
      armId: z.string(),
      modelId: z.string(),
      context: z.string(),
      confidence: unit,
      pinned: z.boolean(),
      explanation: z
        .object({
          selection: z.enum(['policy', 'pinned', 'cached', 'failover']),
          policy: z.string(),
          candidates: z.array(
            z.object({
              armId: z.string(),
              sampledUtility: z.number().nullable(),
              meanUtility: z.number(),
              expectedCostUsd: count.nullable(),
              chosen: z.boolean(),
            }),
          ),
          selectionProbability: unit.nullable(),
        })
        .optional(),
    })
    .nullable(),
  // Absent in records kept before requests had their own objective.
  objective: z.object({ costWeight: count.optional(), latencyWeight: count.optional(), maxCostUsd: count.optional() }).nullable().optional(),
  shared: z.boolean(),
  cached: z.boolean(),
  cacheKey: nullableText,
  attempts: z.number().int().nonnegative(),
  finishReason: nullableText,
  errorCode: nullableText,
  metrics: z
    .object({
      latencyMs: count,
      ttftMs: count.nullable(),
      promptTokens: count,
      completionTokens: count,
      tokensEstimated: z.boolean(),
      costUsd: count,
      reward: z.number().nullable(),
    })
    .nullable(),
  session: nullableText,
});
// A field added to RequestRecord but not here would be dropped from every record kept outside the
// process: this fails to compile while a record key other than feedback is missing from the schema.
const storedKeysDecoded: Record<Exclude<keyof RequestRecord, 'feedback' | keyof z.infer<typeof storedRequestRecordSchema>>, never> = {};
void storedKeysDecoded;

const journaledRecordSchema = storedRequestRecordSchema.extend({
  // Absent or null until a score is given.
  feedback: z.object({ score: unit, weight: unit, comment: nullableText, receivedAt: count }).nullable().optional(),
});

/** A value read through a schema, or what is wrong with it by path and code, never by value (records hold prompts and answers). */
export type Read<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly string[] };

export function readWith<T>(schema: z.ZodType<T>, value: unknown): Read<T> {
  const parsed = schema.safeParse(value);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, issues: invalid(parsed.error).issues };
}

export interface JournalRestore {
  /** Puts a journaled record back in the store, if this version reads it and its feedback window is still open. */
  restore(value: unknown): void;
  /** Journaled records skipped because this version cannot read them. */
  unreadable(): number;
}

/**
 * Request records put back from the embedded journal at start-up (the journal hands each record
 * line on as written, src/learning/local-event-log.ts), read through the record schema. A record
 * this version cannot read is skipped, not the journal: counted, and warned about once per kind
 * (its failing paths, never its values); feedback for it is refused as for an unknown request.
 */
export function createJournalRestore(deps: { store: RequestStore; ttlMs: number; logger: Logger }): JournalRestore {
  let unreadable = 0;
  const firstOfKind = createFirstOfKind();
  return {
    restore(value) {
      const read = readWith(journaledRecordSchema, value);
      if (!read.ok) {
        unreadable += 1;
        const id = (value as { id?: unknown } | null)?.id;
        const fields = { requestId: typeof id === 'string' ? id : null, issues: read.issues.slice(0, 5) };
        const message = 'a journaled request record this version cannot read: skipped (feedback for it is refused as for an unknown request)';
        if (firstOfKind(read.issues.join(','))) deps.logger.warn(fields, message);
        else deps.logger.debug(fields, message);
        return;
      }
      const record = read.value;
      if (record.createdAt + deps.ttlMs > Date.now()) deps.store.add({ ...record, feedback: record.feedback ?? null });
    },
    unreadable: () => unreadable,
  };
}

export interface RequestStore {
  add(record: RequestRecord): void;
  /**
   * The record will not change any more but for its feedback and metrics (through `update`): kept
   * compact from now on. A record added finished is kept compact at once.
   */
  settle(id: string): void;
  /** Changes a remembered record's feedback or metrics: every reader of it sees the change from now on. */
  update(id: string, change: Partial<Pick<RequestRecord, 'feedback' | 'metrics'>>): void;
  /** A request this instance served (or restored), still remembered. */
  get(id: string): Readonly<RequestRecord> | undefined;
  /**
   * A request served here or, with a shared store, by any instance; throws a
   * RequestStoreUnavailableError when the shared store cannot be asked.
   */
  find(id: string): Promise<Readonly<RequestRecord> | undefined>;
  /** Makes the record's current state visible to other instances and restarts; never throws. */
  save(record: Readonly<RequestRecord>): Promise<void>;
  /**
   * The session's most recent requests still remembered (with a shared store, served by any
   * instance), newest first, at most `limit`; never throws (the shared part is left out while it
   * cannot be asked).
   */
  recent(session: string, limit: number): Promise<Readonly<RequestRecord>[]>;
  size(): number;
  /** Every record still remembered (compacting a journal of them). */
  all(): Iterable<Readonly<RequestRecord>>;
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
  persist?: (record: Readonly<RequestRecord>) => Promise<void>;
}): RequestStore {
  const maxRequests = Math.max(1, options.maxRequests);
  // Oldest first, in the order they were added: a record's age is its creation time, and reading it
  // (feedback, `request(id)`) does not keep it longer.
  const rows = createRecordRows(maxRequests);
  const expired = (createdAt: number, now: number) => createdAt + options.ttlMs <= now;
  const get = (id: string) => {
    const createdAt = rows.createdAt(id);
    return createdAt === undefined || expired(createdAt, Date.now()) ? undefined : rows.read(id);
  };
  // Newest last. Bounded like the records: one list per session, and no more sessions than records.
  const idsBySession = createGrowingLru<string, string[]>(maxRequests);
  return {
    add(record) {
      const now = Date.now();
      for (let at = rows.oldestCreatedAt(); at !== undefined && expired(at, now); at = rows.oldestCreatedAt()) rows.dropOldest();
      if (rows.size() >= maxRequests && rows.createdAt(record.id) === undefined) rows.dropOldest();
      rows.add(record);
      if (record.status !== 'streaming') rows.pack(record.id);
      if (record.session === null) return;
      const ids = idsBySession.get(record.session) ?? [];
      ids.push(record.id);
      if (ids.length > MAX_RECENT_PER_SESSION) ids.shift();
      idsBySession.set(record.session, ids);
    },
    settle: (id) => rows.pack(id),
    update: (id, change) => rows.update(id, change),
    get,
    find: async (id) => get(id),
    save: async (record) => {
      await options.persist?.(record);
    },
    *all() {
      for (const id of rows.ids()) {
        const record = get(id);
        if (record) yield record;
      }
    },
    async recent(session, limit) {
      const ids = idsBySession.get(session) ?? [];
      const found: Readonly<RequestRecord>[] = [];
      for (let i = ids.length - 1; i >= 0 && found.length < limit; i--) {
        const record = get(ids[i]!);
        if (record) found.push(record);
      }
      return found;
    },
    size: () => rows.size(),
  };
}
