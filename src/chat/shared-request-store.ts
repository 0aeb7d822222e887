import type { Redis } from 'ioredis';
import { z } from 'zod';
import { createFirstOfKind, type Logger } from '../logger.js';
import { isConnectionSession } from '../server/request-session.js';
import {
  MAX_RECENT_PER_SESSION,
  readWith,
  RequestStoreUnavailableError,
  storedRequestRecordSchema,
  type Read,
  type FeedbackRecord,
  type RequestRecord,
  type RequestStore,
} from './request-store.js';

/**
 * Request records shared through Redis, so that feedback, `request(id)` and `recentRequests` work on any instance:
 * each record is written when its request ends (before the client sees the end), as a hash that
 * expires with the feedback window. The last score given is kept in the same hash, where the
 * learning log's append script swaps it atomically (see src/learning/redis-event-log.ts). Records
 * served here stay in the local store too: Redis down, feedback for them still works here.
 */

export interface SharedRequestStoreDeps {
  readonly local: RequestStore;
  readonly redis: Redis;
  readonly keyPrefix: string;
  readonly ttlMs: number;
  readonly logger: Logger;
  /**
   * Whether records that could not be shared may be shared now: Redis answers and the learning
   * log holds no buffered judgement (see reshare). Checked every 250 ms.
   */
  readonly canReshare: () => boolean;
}

/** How soon a record that could not be shared (Redis away) is shared once the learning log has caught up. */
const RESHARE_EVERY_MS = 250;

export function sharedRequestKey(keyPrefix: string, requestId: string): string {
  return `${keyPrefix}request:${requestId}`;
}

/** A session's request ids, scored by creation time (recentRequests on any instance). */
export function sharedSessionKey(keyPrefix: string, session: string): string {
  return `${keyPrefix}session:${session}`;
}

type StoredRecord = Omit<RequestRecord, 'feedback'>;

const unit = z.number().min(0).max(1);
/** The last score given (field `fb`), as the learning log's append script swaps it. */
const givenSchema = z.object({
  scores: z.array(unit).min(1),
  weights: z.array(unit).optional(),
  comment: z.string().nullable().optional(),
  receivedAt: z.number().finite().nonnegative().optional(),
});

/** A field's JSON through its schema (storedRequestRecordSchema for a record: read like the learning log's entries). */
function readField<T>(schema: z.ZodType<T>, text: string): Read<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, issues: ['(root): invalid_json'] };
  }
  return readWith(schema, value);
}

export interface SharedRequestStore extends RequestStore {
  /**
   * Shares the records whose sharing failed (Redis was away), with the score they hold. Call it
   * once the learning log has appended what it buffered: the judgements' swaps then found no
   * record and kept their own previous score, and the record's score is the last one given.
   */
  reshare(): Promise<void>;
  /** Reads of a shared record this version could not read (each read counts: the same record read twice counts twice). */
  unreadable(): number;
  close(): void;
}

export function createSharedRequestStore(deps: SharedRequestStoreDeps): SharedRequestStore {
  const { local, redis, logger } = deps;
  const keyOf = (id: string) => sharedRequestKey(deps.keyPrefix, id);
  const sessionOf = (session: string) => sharedSessionKey(deps.keyPrefix, session);
  /** Ids of records served here whose sharing failed, oldest first (bounded like the local store). */
  const unshared = new Set<string>();

  const write = async (record: RequestRecord, withScore: boolean) => {
    const { feedback, ...stored } = record;
    const key = keyOf(record.id);
    const transaction = redis.multi().hset(key, 'r', JSON.stringify(stored));
    if (withScore && feedback) {
      const given = { scores: [feedback.score], weights: [feedback.weight], comment: feedback.comment, receivedAt: feedback.receivedAt };
      transaction.hsetnx(key, 'fb', JSON.stringify(given));
    }
    transaction.pexpireat(key, record.createdAt + deps.ttlMs);
    if (record.session !== null && !isConnectionSession(record.session)) {
      // Listed for the session on every instance: the newest MAX_RECENT_PER_SESSION, for the window.
      const listed = sessionOf(record.session);
      transaction
        .zadd(listed, record.createdAt, record.id)
        .zremrangebyrank(listed, 0, -MAX_RECENT_PER_SESSION - 1)
        .pexpireat(listed, record.createdAt + deps.ttlMs);
    }
    await transaction.exec();
  };

  /** The session's records in Redis, newest first; its records expired meanwhile are left out. */
  const sharedRecent = async (session: string, limit: number): Promise<RequestRecord[]> => {
    const ids = await redis.zrevrange(sessionOf(session), 0, limit - 1);
    if (ids.length === 0) return [];
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hgetall(keyOf(id));
    const results = (await pipeline.exec()) ?? [];
    return results.flatMap(([error, fields], i) => {
      const record = error ? undefined : parse(ids[i]!, fields as Record<string, string>);
      return record ? [record] : [];
    });
  };

  const firstOfKind = createFirstOfKind();
  let unreadableReads = 0;
  /** Counted every time; warned once per kind (field and failing paths): a fleet's worth of one bad writer's records does not flood the log. */
  const unreadable = (requestId: string, field: 'r' | 'fb', issues: readonly string[]) => {
    unreadableReads += 1;
    const kind = `${field}:${issues.join(',')}`;
    const fields = { requestId, field, issues: issues.slice(0, 5) };
    const message = 'a shared request record this version cannot read: treated as unknown (REQUEST_NOT_FOUND, request(id) null)';
    if (firstOfKind(kind)) logger.warn(fields, message);
    else logger.debug(fields, message);
  };

  /** The record in a shared hash; undefined when there is none or this version cannot read it (never half of one). */
  const parse = (id: string, fields: Record<string, string>): RequestRecord | undefined => {
    if (!fields.r) return undefined;
    const record = readField(storedRequestRecordSchema, fields.r);
    if (!record.ok) {
      unreadable(id, 'r', record.issues);
      return undefined;
    }
    let feedback: FeedbackRecord | null = null;
    if (fields.fb) {
      const given = readField(givenSchema, fields.fb);
      if (!given.ok) {
        unreadable(id, 'fb', given.issues);
        return undefined;
      }
      const { scores, weights, comment, receivedAt } = given.value;
      feedback = { score: scores[0]!, weight: weights?.[0] ?? 1, comment: comment ?? null, receivedAt: receivedAt ?? 0 };
    }
    const stored: StoredRecord = record.value;
    return { ...stored, feedback };
  };

  async function reshare(): Promise<void> {
    for (const id of [...unshared]) {
      const record = local.get(id);
      if (record) await write(record, true);
      unshared.delete(id);
    }
  }
  // Records that failed to be shared after the log had caught up (a chat that ended as Redis came back).
  const timer = setInterval(() => {
    if (unshared.size === 0 || !deps.canReshare()) return;
    reshare().catch((error: unknown) => logger.debug({ err: (error as Error).message }, 'could not share request records'));
  }, RESHARE_EVERY_MS);
  timer.unref();

  return {
    ...local,
    add: local.add,
    get: local.get,
    async recent(session, limit) {
      if (isConnectionSession(session)) return local.recent(session, limit);
      // Local first: it has this instance's requests still streaming, and the latest scores given here.
      const here = await local.recent(session, limit);
      let shared: RequestRecord[] = [];
      try {
        shared = await sharedRecent(session, limit);
      } catch (error) {
        logger.debug({ err: (error as Error).message }, 'could not list shared requests: listing this instance\'s');
      }
      const byId = new Map(shared.map((r) => [r.id, r]));
      for (const record of here) byId.set(record.id, record);
      return [...byId.values()].sort((x, y) => y.createdAt - x.createdAt || y.id.localeCompare(x.id)).slice(0, limit);
    },
    size: local.size,
    all: local.all,
    async find(id) {
      const here = local.get(id);
      if (here) return here;
      let fields: Record<string, string>;
      try {
        fields = await redis.hgetall(keyOf(id));
      } catch (error) {
        throw new RequestStoreUnavailableError(`the shared request store cannot be reached: ${(error as Error).message}`);
      }
      return parse(id, fields);
    },
    async save(record) {
      try {
        await write(record, false);
      } catch (error) {
        // The local copy still takes feedback here; other instances find it once Redis is back.
        logger.debug({ err: (error as Error).message, requestId: record.id }, 'could not share a request record');
        unshared.add(record.id);
        if (unshared.size > local.size() + 1) unshared.delete(unshared.values().next().value!);
      }
    },
    reshare,
    unreadable: () => unreadableReads,
    close: () => clearInterval(timer),
  };
}
