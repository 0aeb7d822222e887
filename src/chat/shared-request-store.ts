import type { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import { RequestStoreUnavailableError, type FeedbackRecord, type RequestRecord, type RequestStore } from './request-store.js';

/**
 * Request records shared through Redis, so that feedback and `request(id)` work on any instance:
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
}

export function sharedRequestKey(keyPrefix: string, requestId: string): string {
  return `${keyPrefix}request:${requestId}`;
}

type StoredRecord = Omit<RequestRecord, 'feedback'>;

export function createSharedRequestStore(deps: SharedRequestStoreDeps): RequestStore {
  const { local, redis, logger } = deps;
  const keyOf = (id: string) => sharedRequestKey(deps.keyPrefix, id);

  const parse = (fields: Record<string, string>): RequestRecord | undefined => {
    if (!fields.r) return undefined;
    const record = JSON.parse(fields.r) as StoredRecord;
    let feedback: FeedbackRecord | null = null;
    if (fields.fb) {
      const given = JSON.parse(fields.fb) as { scores: number[]; comment?: string | null; receivedAt?: number };
      feedback = { score: given.scores[0]!, comment: given.comment ?? null, receivedAt: given.receivedAt ?? 0 };
    }
    return { ...record, feedback };
  };

  return {
    ...local,
    add: local.add,
    get: local.get,
    recent: local.recent,
    size: local.size,
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
      const { feedback: _feedback, ...stored } = record;
      try {
        await redis
          .multi()
          .hset(keyOf(record.id), 'r', JSON.stringify(stored))
          .pexpireat(keyOf(record.id), record.createdAt + deps.ttlMs)
          .exec();
      } catch (error) {
        // The local copy still takes feedback here; other instances will not find this request.
        logger.debug({ err: (error as Error).message, requestId: record.id }, 'could not share a request record');
      }
    },
  };
}
