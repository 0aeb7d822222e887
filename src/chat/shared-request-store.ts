import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { isConnectionSession } from '../server/request-session.js';
import {
  MAX_RECENT_PER_SESSION,
  RequestStoreUnavailableError,
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

export interface SharedRequestStore extends RequestStore {
  /**
   * Shares the records whose sharing failed (Redis was away), with the score they hold. Call it
   * once the learning log has appended what it buffered: the judgements' swaps then found no
   * record and kept their own previous score, and the record's score is the last one given.
   */
  reshare(): Promise<void>;
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
    return results.flatMap(([error, fields]) => {
      const record = error ? undefined : parse(fields as Record<string, string>);
      return record ? [record] : [];
    });
  };

  const parse = (fields: Record<string, string>): RequestRecord | undefined => {
    if (!fields.r) return undefined;
    const record = JSON.parse(fields.r) as StoredRecord;
    let feedback: FeedbackRecord | null = null;
    if (fields.fb) {
      const given = JSON.parse(fields.fb) as { scores: number[]; weights?: number[]; comment?: string | null; receivedAt?: number };
      feedback = { score: given.scores[0]!, weight: given.weights?.[0] ?? 1, comment: given.comment ?? null, receivedAt: given.receivedAt ?? 0 };
    }
    return { ...record, feedback };
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
      return parse(fields);
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
    close: () => clearInterval(timer),
  };
}
