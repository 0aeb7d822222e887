import type { Redis } from 'ioredis';
import { z } from 'zod';
import { createFirstOfKind, type Logger } from '../logger.js';
import type { EventLog, EventLogStatus } from './event-log.js';
import type { JudgementEvent, LearningEvent } from './learning-events.js';
import { decodeEvent, decodeSnapshot, KNOWN_EVENT_TYPES, LEARNING_FORMAT_VERSION } from './learning-format.js';
import type { LearningSnapshot, LearningState } from './learning-state.js';

/**
 * The shared event log: a Redis Stream every instance appends the events it observes to and
 * applies, in stream order, every instance's events from. All replicas therefore go through the
 * same sequence of states; routing reads the local copy synchronously.
 *
 * - Exactly once: each instance numbers its events; the append script skips a number it has
 *   already appended, so a retried batch (a timeout whose command did land) adds nothing twice.
 * - Judgements: the script swaps the score kept in the request's record for the new one and
 *   stores the old one with the event, atomically with the append: two replicas taking a second
 *   score for the same request at once both end up replacing, in stream order, never adding.
 * - Redis unreachable: the instance goes on learning locally (events applied at once, kept in a
 *   bounded buffer) from a copy of its last shared state; when Redis returns it appends the
 *   buffer, goes back to that copy (or a newer snapshot) and re-reads the stream from there, so
 *   it ends up with exactly the shared order again.
 * - Snapshots: one instance at a time writes the state with the stream id it covers; a starting
 *   instance loads it and reads the stream after it. The stream is trimmed behind the snapshot
 *   and the positions of the instances still reading.
 * - Mixed versions (learning-format.ts): every entry carries its format `v`. An entry this build
 *   cannot read (a newer format, or malformed) is skipped, never applied, and counted; a newer
 *   snapshot is neither loaded nor replaced (the instance starts from the events left in the
 *   stream), so the newer version finds its state intact when it is back.
 */

export interface RedisEventLogDeps {
  readonly redis: Redis;
  readonly state: LearningState;
  /** Prefix of every key (redis.keyPrefix). */
  readonly keyPrefix: string;
  /** Key of a request's shared record (where judgements swap their scores). */
  readonly requestKey: (requestId: string) => string;
  readonly instanceId: string;
  readonly maxBuffered: number;
  readonly snapshotIntervalMs: number;
  readonly logger: Logger;
  /** Called once per event applied, whoever observed it (to keep local request records' scores current). */
  readonly onApplied?: (event: LearningEvent) => void;
  /** Called when Redis is back and the buffer appended, before the shared order is replayed (to share what was kept locally). */
  readonly onReconnected?: () => Promise<void>;
}

export interface RedisEventLog extends EventLog {
  /** The stream id of the last shared event applied here. */
  position(): string;
}

/** Judgement fields of a request record: the scores last given, by kind. */
export const JUDGEMENT_FIELD: Record<JudgementEvent['kind'], string> = { feedback: 'fb', comparison: 'cmp' };

/** How long an instance's event numbering is remembered after its last append (its retries end long before). */
const SEQUENCE_TTL_SECONDS = 7 * 24 * 3600;
/** Events per append script call and per stream read. */
const BATCH = 256;
const READ_BLOCK_MS = 1_000;
/** An instance whose position is older than this no longer holds the stream back from trimming. */
const POSITION_STALE_MS = 60_000;
/** Longest an append waits to be read back and applied here before it is reported, once it is in the shared log. */
const APPLY_WAIT_MS = 5_000;

const APPEND_SCRIPT = `
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local appended = 0
local i = 3
while i <= #ARGV do
  local seq = tonumber(ARGV[i])
  if seq > last then
    local previous = '-'
    local key = ARGV[i + 2]
    if key ~= '' and redis.call('EXISTS', key) == 1 then
      previous = redis.call('HGET', key, ARGV[i + 3]) or ''
      redis.call('HSET', key, ARGV[i + 3], ARGV[i + 4])
    end
    redis.call('XADD', KEYS[1], '*', 'e', ARGV[i + 1], 'p', previous, 'v', ARGV[2])
    last = seq
    appended = appended + 1
  end
  i = i + 5
end
redis.call('SET', KEYS[2], last, 'EX', ARGV[1])
return appended
`;

/**
 * Replaces the snapshot only with a newer one (a lagging instance must not move it back), keeping
 * the id of the one it replaces: the stream is trimmed behind that, so an instance that has just
 * read the older snapshot still finds the entries after it. Never replaces a snapshot of a newer
 * format than the writer's (ARGV[3]): minus that format, whatever the ids (a newer replica's
 * snapshot at this writer's own position is as much a newer one as one behind it). The stored
 * format is the state's leading "version" (how every snapshot is serialised), decoded in full only
 * for a state that does not lead with it.
 */
const SNAPSHOT_SCRIPT = `
local stored = redis.call('HGET', KEYS[1], 'state')
if stored then
  local format = tonumber(string.match(stored, '^{"version":(%d+)'))
  if not format then
    local ok, decoded = pcall(cjson.decode, stored)
    if ok and type(decoded) == 'table' then format = tonumber(decoded.version) end
  end
  if format and format > tonumber(ARGV[3]) then return -format end
end
local current = redis.call('HGET', KEYS[1], 'id')
if current then
  local cm, cs = string.match(current, '(%d+)-(%d+)')
  local nm, ns = string.match(ARGV[1], '(%d+)-(%d+)')
  cm, cs, nm, ns = tonumber(cm), tonumber(cs), tonumber(nm), tonumber(ns)
  if nm < cm or (nm == cm and ns <= cs) then return 0 end
  redis.call('HSET', KEYS[1], 'previous', current)
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'state', ARGV[2])
return 1
`;

/** The record a judgement's append script found (field 'p'): the scores it replaces, with their judge weights. */
const replacedScores = z.looseObject({
  scores: z.array(z.number().min(0).max(1)).optional(),
  weights: z.array(z.number().min(0).max(1)).optional(),
});


/** Orders stream ids ("ms-seq"). */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am !== bm ? am - bm : as - bs;
}

interface Pending {
  readonly seq: number;
  readonly event: LearningEvent;
  readonly json: string;
  /** Applied here already, while Redis was unreachable. */
  appliedLocally: boolean;
  /** In the shared log (the append script returned). */
  appended: boolean;
}

type StreamEntry = [id: string, fields: string[]];

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** A backoff that ends early when `wake` is called (Redis reconnected). */
function createBackoff() {
  let wake: (() => void) | null = null;
  return {
    wait(ms: number): Promise<void> {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        timer.unref();
        function done() {
          clearTimeout(timer);
          wake = null;
          resolve();
        }
        wake = done;
      });
    },
    wake: () => wake?.(),
  };
}

export function createRedisEventLog(deps: RedisEventLogDeps): RedisEventLog {
  const { redis, state, logger } = deps;
  const prefix = `${deps.keyPrefix}learning:`;
  const keys = {
    stream: `${prefix}stream`,
    snapshot: `${prefix}snapshot`,
    positions: `${prefix}positions`,
    snapshotLock: `${prefix}snapshot-lock`,
    sequence: `${prefix}seq:${deps.instanceId}`,
  };
  // Blocking reads hold their connection: a connection of their own, with a timeout past the block.
  const reader = redis.duplicate({ commandTimeout: READ_BLOCK_MS + 2_000, connectionName: 'switchyard-learning' });
  reader.on('error', () => undefined);

  let lastId = '0-0';
  let seq = 0;
  let applied = 0;
  let dropped = 0;
  let stopped = false;
  let started = false;
  /** Observed here, not yet appended (oldest first). */
  const pending: Pending[] = [];
  /** Appended by this instance, not yet read back: applied locally if Redis goes away first. */
  const unconfirmed = new Map<string, LearningEvent>();
  const waiters = new Map<string, () => void>();
  /** Set while Redis cannot be reached: the shared state this instance left, to go back to. */
  let base: { snapshot: LearningSnapshot; id: string } | null = null;
  let flushing: Promise<void> | null = null;
  let tailing: Promise<void> | null = null;
  let timer: NodeJS.Timeout | undefined;
  let lastSnapshotApplied = -1;
  const skipped = { newer: 0, malformed: 0 };
  let newerFormat: number | null = null;
  const firstOfKind = createFirstOfKind();
  const backoff = createBackoff();
  // Redis back (or another one in its place): its snapshot may be gone (an empty restart) or a newer
  // version's may have taken its place, so the next interval snapshots even if nothing new was applied.
  const reconnected = () => {
    lastSnapshotApplied = -1;
    backoff.wake();
  };
  redis.on('ready', reconnected);

  const settle = (eventId: string) => {
    const resolve = waiters.get(eventId);
    if (resolve) {
      waiters.delete(eventId);
      resolve();
    }
  };

  const applyHere = (event: LearningEvent) => {
    state.apply(event);
    applied += 1;
    deps.onApplied?.(event);
  };

  /** Redis cannot be reached: keep learning from what this instance observes, from its last shared state. */
  const goLocal = (error: unknown) => {
    if (base === null) {
      base = { snapshot: state.snapshot(), id: lastId };
      logger.warn({ err: (error as Error)?.message, buffered: pending.length }, 'learning log unreachable: learning locally, buffering events');
    }
    for (const event of unconfirmed.values()) {
      applyHere(event);
      settle(event.id);
    }
    unconfirmed.clear();
    for (const item of pending) {
      if (item.appliedLocally) continue;
      item.appliedLocally = true;
      applyHere(item.event);
      settle(item.event.id);
    }
  };

  /** Warns once per kind of thing this build cannot read (the log is not flooded by a fleet's worth of them). */
  const warnOnce = (kind: string, fields: Record<string, unknown>, message: string) => {
    if (firstOfKind(kind)) logger.warn(fields, message);
  };

  const metNewer = (version: number) => {
    newerFormat = Math.max(newerFormat ?? 0, version);
  };

  const newerSnapshot = (version: number) => {
    metNewer(version);
    warnOnce(
      `snapshot:${version}`,
      { version, readable: LEARNING_FORMAT_VERSION },
      'the shared learning snapshot is of a newer format than this version reads: not loaded and never replaced by this instance ' +
        '(a mixed-version fleet or a rollback; see docs/reliability.md, "Learning format versions")',
    );
  };

  /** The shared snapshot if this build reads it; null when there is none, it is unreadable, or of a newer format. */
  const readSnapshot = async (): Promise<{ snapshot: LearningSnapshot; id: string } | null> => {
    const [id, text] = await redis.hmget(keys.snapshot, 'id', 'state');
    if (!id || !text) return null;
    let decoded;
    try {
      decoded = decodeSnapshot(JSON.parse(text));
    } catch {
      decoded = { kind: 'malformed', issues: ['not JSON'] } as const;
    }
    if (decoded.kind === 'ok') return { snapshot: decoded.value, id };
    if (decoded.kind === 'newer') newerSnapshot(decoded.version);
    else logger.warn({ issues: decoded.issues.slice(0, 5) }, 'the shared learning snapshot is unreadable: ignored');
    return null;
  };

  /** Back from local learning: the newer of the state it left and the shared snapshot (if readable), then the stream after it. */
  const rebase = async () => {
    const left = base!;
    const shared = await readSnapshot();
    const from = shared && compareStreamIds(shared.id, left.id) > 0 ? shared : left;
    state.restore(from.snapshot);
    lastId = from.id;
    base = null;
    logger.info({ from: from === shared ? 'shared snapshot' : 'own last shared state', id: from.id }, 'learning log reachable again: replaying the shared order');
  };

  const appendBatch = async (batch: readonly Pending[]) => {
    const args: Array<string | number> = [SEQUENCE_TTL_SECONDS, LEARNING_FORMAT_VERSION];
    for (const item of batch) {
      const { event } = item;
      if (event.type === 'judgement') {
        const value = JSON.stringify({
          scores: event.verdicts.map((v) => v.score),
          weights: event.verdicts.map((v) => v.weight ?? 1),
          comment: event.comment ?? null,
          receivedAt: event.at,
        });
        args.push(item.seq, item.json, deps.requestKey(event.requestId), JUDGEMENT_FIELD[event.kind], value);
      } else {
        args.push(item.seq, item.json, '', '', '');
      }
    }
    await redis.eval(APPEND_SCRIPT, 2, keys.stream, keys.sequence, ...args);
  };

  /**
   * Appends what is buffered, in order; after an outage, once the buffer is empty, goes back to
   * the shared order. Runs until both are done, retrying with backoff (woken when Redis reconnects).
   */
  const flush = (): Promise<void> => {
    flushing ??= (async () => {
      let delay = 50;
      while (!stopped && (pending.length > 0 || base !== null)) {
        try {
          if (pending.length > 0) {
            const batch = pending.slice(0, BATCH);
            await appendBatch(batch);
            pending.splice(0, batch.length);
            for (const item of batch) {
              item.appended = true;
              if (!item.appliedLocally) unconfirmed.set(item.event.id, item.event);
            }
          } else {
            await deps.onReconnected?.();
            await rebase();
          }
          delay = 50;
        } catch (error) {
          goLocal(error);
          await backoff.wait(delay);
          delay = Math.min(delay * 2, 2_000);
        }
      }
    })().finally(() => {
      flushing = null;
      // An append made while this run was ending (its loop done, this callback not yet run) found
      // `flushing` still set and left its event to it: without a new run that event would wait for
      // the next append, and its caller, who hears back only once it is appended, with it.
      if (!stopped && (pending.length > 0 || base !== null)) void flush();
    });
    return flushing;
  };

  /** An entry this build cannot read: skipped, counted, warned about once per kind, with nothing of its content. */
  const skip = (id: string, skippedEntry: { kind: 'newer'; version: number } | { kind: 'malformed'; type: unknown; issues: readonly string[] }) => {
    if (skippedEntry.kind === 'newer') {
      skipped.newer += 1;
      metNewer(skippedEntry.version);
      warnOnce(
        `newer:${skippedEntry.version}`,
        { id, version: skippedEntry.version, readable: LEARNING_FORMAT_VERSION },
        'learning events of a newer format in the shared log: skipped, not applied (counted in switchyard_learning_skipped_events_total)',
      );
      return;
    }
    skipped.malformed += 1;
    const type = typeof skippedEntry.type === 'string' && KNOWN_EVENT_TYPES.has(skippedEntry.type) ? skippedEntry.type : 'unknown';
    warnOnce(
      `malformed:${type}`,
      { id, type, issues: skippedEntry.issues.slice(0, 5) },
      'malformed learning event in the shared log: skipped, not applied (counted in switchyard_learning_skipped_events_total)',
    );
  };

  /** The entry's event as this build reads it (judgements with the scores they replace), or null when it was skipped. */
  const readEntry = ([id, fields]: StreamEntry): LearningEvent | null => {
    let json: string | undefined;
    let previous = '-';
    let marker: string | undefined;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === 'e') json = fields[i + 1]!;
      else if (fields[i] === 'p') previous = fields[i + 1]!;
      else if (fields[i] === 'v') marker = fields[i + 1]!;
    }
    let value: unknown;
    try {
      value = json === undefined ? undefined : JSON.parse(json);
    } catch {
      value = undefined;
    }
    const type = (value as { type?: unknown } | null | undefined)?.type;
    const decoded = decodeEvent(value, marker);
    if (decoded.kind === 'newer') {
      skip(id, decoded);
      return null;
    }
    if (decoded.kind === 'malformed') {
      skip(id, { kind: 'malformed', type, issues: value === undefined ? ['e: not JSON'] : decoded.issues });
      return null;
    }
    const event = decoded.value;
    if (event.type !== 'judgement' || previous === '-') return event;
    // The record's scores as the append script found them: what this judgement replaces.
    let found: z.infer<typeof replacedScores> = {};
    if (previous !== '') {
      let parsed;
      try {
        parsed = replacedScores.safeParse(JSON.parse(previous));
      } catch {
        parsed = null;
      }
      if (!parsed?.success) {
        skip(id, { kind: 'malformed', type, issues: ['p: not the scores a judgement replaces'] });
        return null;
      }
      found = parsed.data;
    }
    const scores = found.scores ?? [];
    // A replacement teaches at the judge weight of the score it replaces, wherever that was given.
    const weights = found.weights ?? [];
    return {
      ...event,
      verdicts: event.verdicts.map((v, i) => ({
        ...v,
        previous: scores[i] ?? null,
        ...(scores[i] !== undefined && weights[i] !== undefined ? { weight: weights[i] } : {}),
      })),
    };
  };

  const applyEntry = (entry: StreamEntry) => {
    // Past the entry first, whatever it holds: an entry this build cannot read must not stop the reading.
    lastId = entry[0];
    const event = readEntry(entry);
    if (!event) return;
    unconfirmed.delete(event.id);
    applyHere(event);
    settle(event.id);
  };

  /**
   * Reads the stream after lastId; resolves the number of entries applied. Only a blocking read
   * needs the reading connection: the catch-up at start goes through the main one, which the app
   * waits for, while the reading connection may still be connecting (no offline queue: a command
   * on it would fail at once, and the instance would start learning locally with Redis up).
   */
  const readOnce = async (block: boolean): Promise<number> => {
    const from = lastId;
    const result = (
      block
        ? await reader.xread('COUNT', BATCH, 'BLOCK', READ_BLOCK_MS, 'STREAMS', keys.stream, from)
        : await redis.xread('COUNT', BATCH, 'STREAMS', keys.stream, from)
    ) as Array<[string, StreamEntry[]]> | null;
    // Learning locally meanwhile, or rebased: what was read belongs to a position no longer current.
    if (base !== null || lastId !== from || !result) return 0;
    const entries = result[0]?.[1] ?? [];
    for (const entry of entries) applyEntry(entry);
    return entries.length;
  };

  const tail = (): Promise<void> =>
    (async () => {
      let delay = 50;
      while (!stopped) {
        if (base !== null) {
          await sleep(50);
          continue;
        }
        try {
          await readOnce(true);
          delay = 50;
        } catch (error) {
          if (stopped) return;
          logger.debug({ err: (error as Error).message }, 'reading the learning log failed');
          await sleep(delay);
          delay = Math.min(delay * 2, 2_000);
        }
      }
    })();

  const snapshotAndTrim = async () => {
    if (base !== null) return;
    const now = Date.now();
    await redis.hset(keys.positions, deps.instanceId, JSON.stringify({ id: lastId, at: now }));
    if (applied === lastSnapshotApplied) return;
    const lock = await redis.set(keys.snapshotLock, deps.instanceId, 'PX', Math.max(100, deps.snapshotIntervalMs - 50), 'NX');
    if (lock !== 'OK') return;
    const id = lastId;
    const written = await redis.eval(SNAPSHOT_SCRIPT, 1, keys.snapshot, id, JSON.stringify(state.snapshot()), LEARNING_FORMAT_VERSION);
    // A newer version's snapshot stays (and is asked about again next time: an operator may delete it to finish a rollback).
    if (typeof written === 'number' && written < 0) {
      newerSnapshot(-written);
      return;
    }
    lastSnapshotApplied = applied;
    // Trim behind the snapshot before the newest, and never past an instance still reading older entries.
    const previous = await redis.hget(keys.snapshot, 'previous');
    if (!previous) return;
    const positions = await redis.hgetall(keys.positions);
    let trimTo = previous;
    for (const [instance, text] of Object.entries(positions)) {
      const position = JSON.parse(text) as { id: string; at: number };
      if (now - position.at > POSITION_STALE_MS) {
        await redis.hdel(keys.positions, instance);
        continue;
      }
      if (compareStreamIds(position.id, trimTo) < 0) trimTo = position.id;
    }
    if (trimTo !== '0-0') await redis.xtrim(keys.stream, 'MINID', trimTo);
  };

  const status = (): EventLogStatus => ({
    kind: 'redis',
    state: base === null ? 'ok' : 'degraded',
    buffered: pending.length,
    dropped,
    applied,
    skipped: { ...skipped },
    newerFormat,
  });

  return {
    kind: 'redis',
    async append(event) {
      seq += 1;
      const item: Pending = { seq, event, json: JSON.stringify(event), appliedLocally: false, appended: false };
      if (pending.length >= deps.maxBuffered) {
        // Bounded: the oldest buffered event gives way (it was applied here already: only the shared log loses it).
        const gone = pending.shift()!;
        dropped += 1;
        settle(gone.event.id);
      }
      pending.push(item);
      // Before start (nothing routes yet) the event waits for the log; while Redis is away it is learnt here at once.
      if (!started) return;
      if (base !== null) {
        item.appliedLocally = true;
        applyHere(event);
        void flush();
        return;
      }
      const applied = new Promise<void>((resolve) => {
        waiters.set(event.id, resolve);
        // A stalled reader must not stall the caller, but the caller hears back only once the event
        // is in the shared log (or learnt here, Redis being away): what it acknowledges, such as
        // accepted feedback, then survives a kill -9 of this instance.
        const reportOnceDurable = () => {
          if (item.appended || stopped) settle(event.id);
          else setTimeout(reportOnceDurable, APPLY_WAIT_MS).unref();
        };
        setTimeout(reportOnceDurable, APPLY_WAIT_MS).unref();
      });
      void flush();
      await applied;
    },
    async start() {
      try {
        const shared = await readSnapshot();
        if (shared) {
          state.restore(shared.snapshot);
          lastId = shared.id;
        }
        // Registered before reading, so that no trim passes the entries after the snapshot just read.
        await redis.hset(keys.positions, deps.instanceId, JSON.stringify({ id: lastId, at: Date.now() }));
        // Caught up before serving: a restarted instance routes on what the others learnt meanwhile.
        while ((await readOnce(false)) === BATCH);
      } catch (error) {
        goLocal(error);
      }
      started = true;
      // A start-up command that failed (Redis slow or away) left this instance learning locally:
      // flushing retries until it is back in the shared order, appends or not (nothing else would
      // bring it back, and it would never learn what the other instances share).
      if (pending.length > 0 || base !== null) void flush();
      tailing = tail();
      timer = setInterval(() => {
        snapshotAndTrim().catch((error: unknown) => logger.debug({ err: (error as Error).message }, 'learning snapshot failed'));
      }, deps.snapshotIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      // Whatever is still buffered gets one more chance while Redis answers.
      if (pending.length > 0) await Promise.race([flush(), sleep(2_000)]);
      stopped = true;
      backoff.wake();
      await snapshotAndTrim().catch(() => undefined);
      await redis.hdel(keys.positions, deps.instanceId).catch(() => undefined);
      redis.off('ready', reconnected);
      reader.disconnect();
      await tailing?.catch(() => undefined);
      for (const eventId of [...waiters.keys()]) settle(eventId);
    },
    status,
    position: () => lastId,
  };
}
