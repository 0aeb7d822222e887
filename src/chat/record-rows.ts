import type { RouteExplanation } from '../router/route-explanation.js';
import type { FeedbackRecord, RequestRecord, RequestStatus } from './request-store.js';

/**
 * Request records kept as rows of three flat arrays, oldest first (a ring), so that the up to
 * `requests.maxRequests` records a store keeps cost a full GC next to nothing: a finished record is
 * its numbers in a Float64Array, its feedback-token digest in a Buffer (neither of which V8 marks),
 * and its strings, most of them shared (arm, model, context, session, client), in one array of
 * references. Of the ~10 objects a record held as an object (itself, its decision, its metrics, its
 * digest, the heap numbers of its doubles, lru-cache's slots), only its id is left. A record still
 * streaming is kept as it is (its row holds the object, which the chat service is still filling in)
 * until `pack`; `read` rebuilds a packed one as a new object each time.
 */

const STATUSES: readonly RequestStatus[] = ['streaming', 'completed', 'failed', 'cancelled'];

// Numbers of a row: the record's doubles, its attempts and its flags.
const CREATED_AT = 0;
const CONFIDENCE = 1;
const LATENCY_MS = 2;
const TTFT_MS = 3;
const PROMPT_TOKENS = 4;
const COMPLETION_TOKENS = 5;
const COST_USD = 6;
const REWARD = 7;
const SCORE = 8;
const WEIGHT = 9;
const RECEIVED_AT = 10;
const ATTEMPTS = 11;
const FLAGS = 12;
const NUMBERS = 13;

// Flags: the status in the low two bits, then what is present (null is a flag, not a value).
const SHARED = 1 << 2;
const CACHED = 1 << 3;
const HAS_DECISION = 1 << 4;
const PINNED = 1 << 5;
const HAS_METRICS = 1 << 6;
const HAS_TTFT = 1 << 7;
const ESTIMATED = 1 << 8;
const HAS_REWARD = 1 << 9;
const HAS_FEEDBACK = 1 << 10;
const PACKED_DIGEST = 1 << 11;

// References of a row.
const ID = 0;
const OWNER = 1;
const CLIENT = 2;
const SESSION = 3;
const ARM = 4;
const MODEL = 5;
const CONTEXT = 6;
const CACHE_KEY = 7;
const FINISH_REASON = 8;
const ERROR_CODE = 9;
const OBJECTIVE = 10;
const EXPLANATION = 11;
const COMMENT = 12;
/** A digest that is not 64 lowercase hex digits (one from a journal), as given; null when packed. */
const DIGEST_TEXT = 13;
/** The record itself while it is not packed (still streaming); null once packed. */
const LIVE = 14;
const REFS = 15;

const DIGEST_BYTES = 32;
const PACKABLE_DIGEST = /^[0-9a-f]{64}$/;
const FIRST_CAPACITY = 256;

export interface RecordRows {
  /** Appends a record (kept as it is until `pack`), or replaces the record with its id where it is. */
  add(record: RequestRecord): void;
  /** The record with this id, built anew from its row when packed; undefined when it has none. */
  read(id: string): RequestRecord | undefined;
  createdAt(id: string): number | undefined;
  /** Keeps the record with this id packed from now on: none of its fields but feedback and metrics changes any more. */
  pack(id: string): void;
  /** Changes a record's feedback or metrics, packed or not: every reader sees it from now on. */
  update(id: string, change: Partial<Pick<RequestRecord, 'feedback' | 'metrics'>>): void;
  /** The oldest record's creation time; undefined when there is none. */
  oldestCreatedAt(): number | undefined;
  dropOldest(): void;
  size(): number;
  /** Every record, oldest first. */
  ids(): Iterable<string>;
}

export function createRecordRows(maxRows: number): RecordRows {
  let capacity = Math.min(Math.max(1, maxRows), FIRST_CAPACITY);
  let numbers = new Float64Array(capacity * NUMBERS);
  let refs: unknown[] = new Array(capacity * REFS).fill(null);
  let digests = Buffer.alloc(capacity * DIGEST_BYTES);
  /** Row of each record's id. */
  const rowOf = new Map<string, number>();
  let oldest = 0;

  const rowAt = (nth: number) => (oldest + nth) % capacity;

  /** Twice the rows (at most maxRows), oldest first from row 0. Rare: a doubling, up to the cap. */
  const grow = () => {
    const next = Math.min(maxRows, capacity * 2);
    const nextNumbers = new Float64Array(next * NUMBERS);
    const nextRefs: unknown[] = new Array(next * REFS).fill(null);
    const nextDigests = Buffer.alloc(next * DIGEST_BYTES);
    for (let nth = 0; nth < rowOf.size; nth++) {
      const from = rowAt(nth);
      nextNumbers.set(numbers.subarray(from * NUMBERS, (from + 1) * NUMBERS), nth * NUMBERS);
      for (let r = 0; r < REFS; r++) nextRefs[nth * REFS + r] = refs[from * REFS + r];
      digests.copy(nextDigests, nth * DIGEST_BYTES, from * DIGEST_BYTES, (from + 1) * DIGEST_BYTES);
      rowOf.set(refs[from * REFS + ID] as string, nth);
    }
    numbers = nextNumbers;
    refs = nextRefs;
    digests = nextDigests;
    capacity = next;
    oldest = 0;
  };

  const live = (row: number) => refs[row * REFS + LIVE] as RequestRecord | null;

  const writeFeedback = (row: number, feedback: FeedbackRecord | null) => {
    const n = row * NUMBERS;
    numbers[FLAGS + n] = feedback ? numbers[FLAGS + n]! | HAS_FEEDBACK : numbers[FLAGS + n]! & ~HAS_FEEDBACK;
    numbers[SCORE + n] = feedback?.score ?? 0;
    numbers[WEIGHT + n] = feedback?.weight ?? 0;
    numbers[RECEIVED_AT + n] = feedback?.receivedAt ?? 0;
    refs[row * REFS + COMMENT] = feedback?.comment ?? null;
  };

  const writeMetrics = (row: number, metrics: RequestRecord['metrics']) => {
    const n = row * NUMBERS;
    let flags = numbers[FLAGS + n]! & ~(HAS_METRICS | HAS_TTFT | ESTIMATED | HAS_REWARD);
    if (metrics) {
      flags |= HAS_METRICS | (metrics.ttftMs !== null ? HAS_TTFT : 0) | (metrics.tokensEstimated ? ESTIMATED : 0) | (metrics.reward !== null ? HAS_REWARD : 0);
    }
    numbers[FLAGS + n] = flags;
    numbers[LATENCY_MS + n] = metrics?.latencyMs ?? 0;
    numbers[TTFT_MS + n] = metrics?.ttftMs ?? 0;
    numbers[PROMPT_TOKENS + n] = metrics?.promptTokens ?? 0;
    numbers[COMPLETION_TOKENS + n] = metrics?.completionTokens ?? 0;
    numbers[COST_USD + n] = metrics?.costUsd ?? 0;
    numbers[REWARD + n] = metrics?.reward ?? 0;
  };

  const writePacked = (row: number, record: RequestRecord) => {
    const n = row * NUMBERS;
    const r = row * REFS;
    const { decision } = record;
    const packedDigest = PACKABLE_DIGEST.test(record.tokenDigest);
    numbers[FLAGS + n] =
      STATUSES.indexOf(record.status) |
      (record.shared ? SHARED : 0) |
      (record.cached ? CACHED : 0) |
      (decision ? HAS_DECISION : 0) |
      (decision?.pinned ? PINNED : 0) |
      (packedDigest ? PACKED_DIGEST : 0);
    numbers[CREATED_AT + n] = record.createdAt;
    numbers[CONFIDENCE + n] = decision?.confidence ?? 0;
    numbers[ATTEMPTS + n] = record.attempts;
    writeMetrics(row, record.metrics);
    writeFeedback(row, record.feedback);
    refs[r + OWNER] = record.owner;
    refs[r + CLIENT] = record.client;
    refs[r + SESSION] = record.session;
    refs[r + ARM] = decision?.armId ?? null;
    refs[r + MODEL] = decision?.modelId ?? null;
    refs[r + CONTEXT] = decision?.context ?? null;
    refs[r + EXPLANATION] = decision?.explanation;
    refs[r + CACHE_KEY] = record.cacheKey;
    refs[r + FINISH_REASON] = record.finishReason;
    refs[r + ERROR_CODE] = record.errorCode;
    // Absent (undefined) in records kept before requests had their own objective: kept absent.
    refs[r + OBJECTIVE] = record.objective;
    refs[r + DIGEST_TEXT] = packedDigest ? null : record.tokenDigest;
    refs[r + LIVE] = null;
    if (packedDigest) digests.write(record.tokenDigest, row * DIGEST_BYTES, DIGEST_BYTES, 'hex');
  };

  const readPacked = (row: number): RequestRecord => {
    const n = row * NUMBERS;
    const r = row * REFS;
    const flags = numbers[FLAGS + n]!;
    const has = (flag: number) => (flags & flag) !== 0;
    return {
      id: refs[r + ID] as string,
      createdAt: numbers[CREATED_AT + n]!,
      owner: refs[r + OWNER] as string | null,
      client: refs[r + CLIENT] as string | null,
      tokenDigest: has(PACKED_DIGEST) ? digests.toString('hex', row * DIGEST_BYTES, (row + 1) * DIGEST_BYTES) : (refs[r + DIGEST_TEXT] as string),
      status: STATUSES[flags & 3]!,
      decision: has(HAS_DECISION)
        ? {
            armId: refs[r + ARM] as string,
            modelId: refs[r + MODEL] as string,
            context: refs[r + CONTEXT] as string,
            confidence: numbers[CONFIDENCE + n]!,
            pinned: has(PINNED),
            explanation: refs[r + EXPLANATION] as RouteExplanation | undefined,
          }
        : null,
      objective: refs[r + OBJECTIVE] as RequestRecord['objective'],
      shared: has(SHARED),
      cached: has(CACHED),
      cacheKey: refs[r + CACHE_KEY] as string | null,
      attempts: numbers[ATTEMPTS + n]!,
      finishReason: refs[r + FINISH_REASON] as string | null,
      errorCode: refs[r + ERROR_CODE] as string | null,
      metrics: has(HAS_METRICS)
        ? {
            latencyMs: numbers[LATENCY_MS + n]!,
            ttftMs: has(HAS_TTFT) ? numbers[TTFT_MS + n]! : null,
            promptTokens: numbers[PROMPT_TOKENS + n]!,
            completionTokens: numbers[COMPLETION_TOKENS + n]!,
            tokensEstimated: has(ESTIMATED),
            costUsd: numbers[COST_USD + n]!,
            reward: has(HAS_REWARD) ? numbers[REWARD + n]! : null,
          }
        : null,
      feedback: has(HAS_FEEDBACK)
        ? {
            score: numbers[SCORE + n]!,
            weight: numbers[WEIGHT + n]!,
            comment: refs[r + COMMENT] as string | null,
            receivedAt: numbers[RECEIVED_AT + n]!,
          }
        : null,
      session: refs[r + SESSION] as string | null,
    };
  };

  return {
    add(record) {
      let row = rowOf.get(record.id);
      if (row === undefined) {
        if (rowOf.size === capacity) grow();
        row = rowAt(rowOf.size);
        rowOf.set(record.id, row);
      }
      refs.fill(null, row * REFS, (row + 1) * REFS);
      refs[row * REFS + ID] = record.id;
      refs[row * REFS + LIVE] = record;
      numbers[row * NUMBERS + CREATED_AT] = record.createdAt;
    },
    read(id) {
      const row = rowOf.get(id);
      if (row === undefined) return undefined;
      return live(row) ?? readPacked(row);
    },
    createdAt(id) {
      const row = rowOf.get(id);
      return row === undefined ? undefined : numbers[row * NUMBERS + CREATED_AT];
    },
    pack(id) {
      const row = rowOf.get(id);
      const record = row === undefined ? null : live(row);
      if (record) writePacked(row!, record);
    },
    update(id, change) {
      const row = rowOf.get(id);
      if (row === undefined) return;
      const record = live(row);
      if (record) Object.assign(record, change);
      else {
        if (change.feedback !== undefined) writeFeedback(row, change.feedback);
        if (change.metrics !== undefined) writeMetrics(row, change.metrics);
      }
    },
    oldestCreatedAt: () => (rowOf.size === 0 ? undefined : numbers[oldest * NUMBERS + CREATED_AT]),
    dropOldest() {
      if (rowOf.size === 0) return;
      rowOf.delete(refs[oldest * REFS + ID] as string);
      refs.fill(null, oldest * REFS, (oldest + 1) * REFS);
      oldest = (oldest + 1) % capacity;
    },
    size: () => rowOf.size,
    *ids() {
      // A snapshot: a caller may drop or add records while it iterates.
      const count = rowOf.size;
      const ids: string[] = [];
      for (let nth = 0; nth < count; nth++) ids.push(refs[rowAt(nth) * REFS + ID] as string);
      yield* ids;
    },
  };
}
