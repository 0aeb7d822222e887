import type { Redis } from 'ioredis';
import { z } from 'zod';
import { createGrowingLru } from '../growing-lru.js';
import { RequestStoreUnavailableError } from '../chat/request-store.js';
import { sharedRequestKey } from '../chat/shared-request-store.js';
import type { LearningEvent } from '../learning/learning-events.js';
import { preferenceOf, type Preference } from '../learning/learning-rules.js';
import { JUDGEMENT_FIELD } from '../learning/redis-event-log.js';
import type { Logger } from '../logger.js';

/**
 * Where shadow calls are kept for `shadowCall` and for comparisons, for the feedback window.
 *
 * Embedded, an in-process LRU. With shared learning, each call is also written to its request's
 * record in Redis (field `s` of `<keyPrefix>request:<id>`, the hash that expires with the feedback
 * window), when it starts and when it ends, so any instance can show it and take its comparison.
 * The last comparison is the record's field `cmp`: the learning log's append script swaps it,
 * atomically with the append (src/learning/redis-event-log.ts), as it does feedback's `fb`. Calls
 * run here stay in the local store too: Redis down, their comparisons still work here.
 */

export type ShadowCallStatus = 'running' | 'completed' | 'failed' | 'cancelled';

/** The comparison a call last got, as the scores its verdicts carried (primary's, shadow's). */
export interface StoredComparison {
  readonly preferred: Preference;
  readonly primaryScore: number;
  readonly shadowScore: number;
  /** The judge's weight of each verdict (primary's, shadow's; src/learning/client-influence.ts); a replacement reuses them. */
  readonly weights: readonly [number, number];
}

export interface ShadowCallRecord {
  readonly requestId: string;
  readonly armId: string;
  readonly modelId: string;
  readonly primaryArmId: string;
  readonly context: string;
  status: ShadowCallStatus;
  text: string;
  errorCode: string | null;
  latencyMs: number | null;
  ttftMs: number | null;
  completionTokens: number;
  costUsd: number;
  readonly startedAt: number;
  comparison: StoredComparison | null;
  /** Set when the stored text was cut at `shadow.maxStoredAnswerBytes`: the answer's whole size in UTF-8 bytes. */
  truncatedFromBytes?: number;
}

export interface ShadowCallStore {
  /** Keeps a call this instance runs (the object its run goes on updating). */
  add(call: ShadowCallRecord): void;
  /** A call this instance ran, still remembered. */
  get(requestId: string): ShadowCallRecord | undefined;
  /**
   * A call run here or, shared, by any instance; throws a RequestStoreUnavailableError when the
   * shared store cannot be asked.
   */
  find(requestId: string): Promise<ShadowCallRecord | undefined>;
  /**
   * Keeps the call's current state (its text cut to the stored cap, in place: the store keeps this
   * object) and makes it visible to other instances; never throws.
   */
  save(call: ShadowCallRecord): Promise<void>;
  /**
   * Called once per learning event applied, whoever observed it: comparisons given on other
   * instances keep the local copy's last comparison current, so that it still replaces the right
   * one if Redis goes away.
   */
  applied(event: LearningEvent): void;
}

export interface SharedShadowCallStore extends ShadowCallStore {
  /** Shares the calls whose sharing failed (Redis was away), with the comparison they hold: see SharedRequestStore.reshare. */
  reshare(): Promise<void>;
  close(): void;
}

export function comparisonOf(primaryScore: number, shadowScore: number, weights: readonly [number, number] = [1, 1]): StoredComparison {
  return { preferred: preferenceOf(primaryScore, shadowScore), primaryScore, shadowScore, weights };
}

const encoder = new TextEncoder();

/**
 * Cuts a call's text to at most `maxBytes` of UTF-8 (never inside a character), remembering the
 * whole answer's size. Answers are stored for the whole feedback window, in process and in Redis:
 * what one of them may hold is bounded, whatever a model streamed.
 */
export function capStoredAnswer(call: ShadowCallRecord, maxBytes: number): void {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most answers need no counting at all.
  if (call.text.length * 3 <= maxBytes) return;
  const bytes = Buffer.byteLength(call.text);
  if (bytes <= maxBytes) return;
  const { read } = encoder.encodeInto(call.text, new Uint8Array(maxBytes));
  call.text = call.text.slice(0, read);
  call.truncatedFromBytes = bytes;
}

export function createShadowCallStore(options: {
  readonly maxCalls: number;
  readonly ttlMs: number;
  /** What one stored answer may hold, in UTF-8 bytes (shadow.maxStoredAnswerBytes). */
  readonly maxAnswerBytes: number;
}): ShadowCallStore {
  const calls = createGrowingLru<string, ShadowCallRecord>(options.maxCalls, {
    ttl: options.ttlMs,
    // A comparison must not keep an old call alive past its window.
    updateAgeOnGet: false,
  });
  return {
    add: (call) => void calls.set(call.requestId, call),
    get: (id) => calls.get(id),
    find: async (id) => calls.get(id),
    save: async (call) => capStoredAnswer(call, options.maxAnswerBytes),
    applied(event) {
      if (event.type !== 'judgement' || event.kind !== 'comparison') return;
      const call = calls.get(event.requestId);
      const [primary, shadow] = event.verdicts;
      if (call && primary && shadow) call.comparison = comparisonOf(primary.score, shadow.score, [primary.weight ?? 1, shadow.weight ?? 1]);
    },
  };
}

export interface SharedShadowCallStoreDeps {
  readonly local: ShadowCallStore;
  readonly redis: Redis;
  readonly keyPrefix: string;
  /** The feedback window: a call's record expires with its request's. */
  readonly ttlMs: number;
  readonly logger: Logger;
  /** Whether calls that could not be shared may be shared now (see SharedRequestStoreDeps.canReshare). */
  readonly canReshare: () => boolean;
  /** Calls whose sharing failed are remembered for a reshare, at most this many (the newest). */
  readonly maxUnshared: number;
}

const CALL_FIELD = 's';
const COMPARISON_FIELD = JUDGEMENT_FIELD.comparison;
const RESHARE_EVERY_MS = 250;

type SharedCall = Omit<ShadowCallRecord, 'comparison'>;

const count = z.number().finite().nonnegative();
const score = z.number().min(0).max(1);
/**
 * A call as another instance shared it, and its last comparison: read like the learning log's
 * entries, so a record this version cannot read (another version's, a buggy writer's) is no call
 * rather than a thrown error or a half-filled answer. Fields it does not know are dropped.
 */
const sharedCallSchema = z.object({
  requestId: z.string(),
  armId: z.string(),
  modelId: z.string(),
  primaryArmId: z.string(),
  context: z.string(),
  status: z.enum(['running', 'completed', 'failed', 'cancelled']),
  text: z.string(),
  errorCode: z.string().nullable(),
  latencyMs: count.nullable(),
  ttftMs: count.nullable(),
  completionTokens: count,
  costUsd: count,
  startedAt: count,
  truncatedFromBytes: count.optional(),
});
const givenSchema = z.object({ scores: z.tuple([score, score]), weights: z.tuple([score, score]).optional() });

function parseShared<T>(schema: z.ZodType<T>, text: string): T | null {
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export function createSharedShadowCallStore(deps: SharedShadowCallStoreDeps): SharedShadowCallStore {
  const { local, redis, logger } = deps;
  const keyOf = (id: string) => sharedRequestKey(deps.keyPrefix, id);
  const unshared = new Set<string>();

  const write = async (call: ShadowCallRecord, withComparison: boolean) => {
    const { comparison, ...shared } = call;
    const key = keyOf(call.requestId);
    const transaction = redis.multi().hset(key, CALL_FIELD, JSON.stringify(shared satisfies SharedCall));
    if (withComparison && comparison) {
      // The format of the log's judgement fields.
      const given = { scores: [comparison.primaryScore, comparison.shadowScore], weights: comparison.weights, comment: null, receivedAt: Date.now() };
      transaction.hsetnx(key, COMPARISON_FIELD, JSON.stringify(given));
    }
    // NX: the request's own write sets its expiry (created + window); a call written first sets a
    // near one (the call starts just after its request), never extends the request's.
    await transaction.pexpireat(key, call.startedAt + deps.ttlMs, 'NX').exec();
  };

  async function reshare(): Promise<void> {
    for (const id of [...unshared]) {
      const call = local.get(id);
      if (call) await write(call, true);
      unshared.delete(id);
    }
  }
  const timer = setInterval(() => {
    if (unshared.size === 0 || !deps.canReshare()) return;
    reshare().catch((error: unknown) => logger.debug({ err: (error as Error).message }, 'could not share shadow calls'));
  }, RESHARE_EVERY_MS);
  timer.unref();

  return {
    add: local.add,
    get: local.get,
    applied: local.applied,
    async find(id) {
      const here = local.get(id);
      if (here) return here;
      let fields: Array<string | null>;
      try {
        fields = await redis.hmget(keyOf(id), CALL_FIELD, COMPARISON_FIELD);
      } catch (error) {
        throw new RequestStoreUnavailableError(`the shared request store cannot be reached: ${(error as Error).message}`);
      }
      const [text, givenText] = fields;
      if (!text) return undefined;
      const call = parseShared(sharedCallSchema, text);
      const given = givenText ? parseShared(givenSchema, givenText) : null;
      if (!call || (givenText && !given)) {
        logger.warn({ requestId: id }, 'a shared shadow call this version cannot read: treated as none');
        return undefined;
      }
      const comparison = given ? comparisonOf(given.scores[0], given.scores[1], given.weights ?? [1, 1]) : null;
      return { ...(call as SharedCall), comparison };
    },
    async save(call) {
      await local.save(call);
      try {
        await write(call, false);
      } catch (error) {
        logger.debug({ err: (error as Error).message, requestId: call.requestId }, 'could not share a shadow call');
        unshared.add(call.requestId);
        if (unshared.size > deps.maxUnshared) unshared.delete(unshared.values().next().value!);
      }
    },
    reshare,
    close: () => clearInterval(timer),
  };
}
