import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedRequestKey } from '../../src/chat/shared-request-store.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { JudgementEvent } from '../../src/learning/learning-events.js';
import { createLearningRules } from '../../src/learning/learning-rules.js';
import { createLearningState, type LearningState } from '../../src/learning/learning-state.js';
import { createRedisEventLog, type RedisEventLog } from '../../src/learning/redis-event-log.js';
import { createSilentLogger } from '../../src/logger.js';
import { createStats } from '../../src/router/create-policy.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';
import {
  capStoredAnswer,
  createShadowCallStore,
  createSharedShadowCallStore,
  type ShadowCallRecord,
  type SharedShadowCallStore,
} from '../../src/router/shadow-call-store.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

/**
 * The shared store of shadow calls and the comparison swap, against a real redis-server: two
 * "instances" (each its own Redis connection, learning state and event log) over one Redis.
 */

const config = parseConfig({ ...defaultConfig, bandit: { hierarchyStrength: 0, halfLife: 0 } });
const reward = createRewardCalculator(config.reward);
const PREFIX = 'test:';
const TTL_MS = 60_000;
const MAX_ANSWER_BYTES = 1_024;
const logger = createSilentLogger();

interface Instance {
  readonly redis: Redis;
  readonly state: LearningState;
  readonly stats: ReturnType<typeof createStats>;
  readonly log: RedisEventLog;
  readonly calls: SharedShadowCallStore;
}

function instance(url: string, name: string): Instance {
  const redis = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 });
  const rules = createLearningRules(reward);
  const stats = createStats(config.bandit, reward, config.arms);
  const state = createLearningState({ stats, rules, arms: config.arms, maxContexts: 100 });
  const local = createShadowCallStore({ maxCalls: 100, ttlMs: TTL_MS, maxAnswerBytes: MAX_ANSWER_BYTES });
  const log = createRedisEventLog({
    redis,
    state,
    keyPrefix: PREFIX,
    requestKey: (id) => sharedRequestKey(PREFIX, id),
    instanceId: name,
    maxBuffered: 1_000,
    snapshotIntervalMs: 60_000,
    logger,
    onApplied: (event) => local.applied(event),
  });
  const calls = createSharedShadowCallStore({ local, redis, keyPrefix: PREFIX, ttlMs: TTL_MS, logger, canReshare: () => true, maxUnshared: 100 });
  return { redis, state, stats, log, calls };
}

const call = (requestId: string, overrides: Partial<ShadowCallRecord> = {}): ShadowCallRecord => ({
  requestId,
  armId: 'swift',
  modelId: 'sim-swift',
  primaryArmId: 'flash',
  context: 'code',
  status: 'completed',
  text: 'the shadow answer',
  errorCode: null,
  latencyMs: 12,
  ttftMs: 3,
  completionTokens: 4,
  costUsd: 0.001,
  startedAt: Date.now(),
  comparison: null,
  ...overrides,
});

/** A comparison as the shadow router sends it: the instance believes its `previous` (null: the first). */
const comparison = (requestId: string, scores: [number, number], previous: [number, number] | null, id: string) =>
  ({
    type: 'judgement',
    kind: 'comparison',
    requestId,
    client: null,
    shared: false,
    verdicts: [
      { armId: 'flash', context: 'code', score: scores[0], previous: previous?.[0] ?? null, costUsd: 0, latencyMs: 10 },
      { armId: 'swift', context: 'code', score: scores[1], previous: previous?.[1] ?? null, costUsd: 0.001, latencyMs: 12 },
    ],
    id,
    origin: 'test',
    at: Date.now(),
  }) satisfies JudgementEvent & { id: string; origin: string; at: number };

/** The request record the shared request store writes when a request ends. */
const shareRequest = (redis: Redis, requestId: string) =>
  redis.multi().hset(sharedRequestKey(PREFIX, requestId), 'r', JSON.stringify({ id: requestId })).pexpire(sharedRequestKey(PREFIX, requestId), TTL_MS).exec();

const until = async (condition: () => boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('what one stored shadow answer may hold', () => {
  const capped = (text: string, maxBytes = MAX_ANSWER_BYTES) => {
    const stored = call('r-cap', { text });
    capStoredAnswer(stored, maxBytes);
    return stored;
  };

  it('keeps an answer within the cap whole, and cuts a longer one at the cap, remembering its size', () => {
    expect(capped('x'.repeat(MAX_ANSWER_BYTES))).toMatchObject({ text: 'x'.repeat(MAX_ANSWER_BYTES) });
    expect(capped('x'.repeat(MAX_ANSWER_BYTES)).truncatedFromBytes).toBeUndefined();
    const long = capped('y'.repeat(5_000));
    expect(long.text).toBe('y'.repeat(MAX_ANSWER_BYTES));
    expect(long.truncatedFromBytes).toBe(5_000);
  });

  it('never cuts inside a character: 3-byte letters and 4-byte emoji (surrogate pairs)', () => {
    const euros = capped('€'.repeat(500));
    expect(euros.text).toBe('€'.repeat(341));
    expect(euros.truncatedFromBytes).toBe(1_500);
    for (const maxBytes of [1_024, 1_025, 1_026, 1_027]) {
      const emoji = capped('🙂'.repeat(400), maxBytes);
      expect(emoji.text).toBe('🙂'.repeat(256));
      expect(Buffer.byteLength(emoji.text)).toBeLessThanOrEqual(maxBytes);
    }
  });

  it('is applied when the local store keeps a call', async () => {
    const store = createShadowCallStore({ maxCalls: 10, ttlMs: TTL_MS, maxAnswerBytes: MAX_ANSWER_BYTES });
    const running = call('r-local', { status: 'running', text: '' });
    store.add(running);
    await store.save(running);
    Object.assign(running, { status: 'completed', text: 'z'.repeat(3_000) });
    await store.save(running);
    expect(store.get('r-local')).toMatchObject({ text: 'z'.repeat(MAX_ANSWER_BYTES), truncatedFromBytes: 3_000 });
  });
});

describe.skipIf(skipWithoutRedis())('shared shadow calls and the comparison swap (real Redis)', () => {
  let server: RedisServerHandle;
  let a: Instance;
  let b: Instance;

  beforeAll(async () => {
    server = await startRedisServer();
    a = instance(server.url, 'a');
    b = instance(server.url, 'b');
    await Promise.all([a.log.start(), b.log.start()]);
  }, 30_000);
  afterAll(async () => {
    for (const i of [a, b]) {
      if (!i) continue;
      i.calls.close();
      await i.log.stop();
      i.redis.disconnect();
    }
    await server?.stop();
  });

  it('a call saved on one instance is found on the other, with its request record; an unknown id is not', async () => {
    const running = call('r-found', { status: 'running', text: '', latencyMs: null });
    a.calls.add(running);
    await a.calls.save(running);
    expect((await b.calls.find('r-found'))?.status).toBe('running');
    Object.assign(running, { status: 'completed', text: 'the shadow answer', latencyMs: 12 });
    await a.calls.save(running);
    const seen = await b.calls.find('r-found');
    expect(seen).toEqual({ ...running, comparison: null });
    expect(b.calls.get('r-found')).toBeUndefined();
    expect(await b.calls.find('r-unknown')).toBeUndefined();
    // It expires with the request's window: the request's own write sets it, the call's never extends it.
    await shareRequest(a.redis, 'r-found');
    const ttl = await a.redis.pttl(sharedRequestKey(PREFIX, 'r-found'));
    expect(ttl).toBeGreaterThan(TTL_MS - 5_000);
    expect(ttl).toBeLessThanOrEqual(TTL_MS);
  });

  it('a long answer is stored cut at the cap, in Redis as here: every instance shows the same text', async () => {
    const long = call('r-long', { text: 'é'.repeat(2_000) });
    a.calls.add(long);
    await a.calls.save(long);
    const raw = JSON.parse((await a.redis.hget(sharedRequestKey(PREFIX, 'r-long'), 's'))!) as { text: string };
    expect(Buffer.byteLength(raw.text)).toBe(MAX_ANSWER_BYTES);
    const seen = await b.calls.find('r-long');
    expect(seen).toMatchObject({ text: 'é'.repeat(512), truncatedFromBytes: 4_000 });
    expect(a.calls.get('r-long')!.text).toBe(seen!.text);
  });

  it('a shared call this version cannot read is no call, never a thrown error; fields it does not know are dropped', async () => {
    const key = (id: string) => sharedRequestKey(PREFIX, id);
    await a.redis.hset(key('r-garbled'), 's', '{"requestId": "r-garbled", "text": ');
    expect(await b.calls.find('r-garbled')).toBeUndefined();
    await a.redis.hset(key('r-half'), 's', JSON.stringify({ requestId: 'r-half', status: 'completed' }));
    expect(await b.calls.find('r-half')).toBeUndefined();
    const { comparison: _, ...shared } = call('r-bad-cmp');
    await a.redis.hset(key('r-bad-cmp'), 's', JSON.stringify(shared), 'cmp', JSON.stringify({ scores: ['up', 2] }));
    expect(await b.calls.find('r-bad-cmp')).toBeUndefined();
    const newer = call('r-newer');
    const { comparison: __, ...newerShared } = newer;
    await a.redis.hset(key('r-newer'), 's', JSON.stringify({ ...newerShared, reasoning: 'a newer field' }));
    expect(await b.calls.find('r-newer')).toEqual(newer);
  });

  it('an expired record is not found', async () => {
    const old = call('r-expired', { startedAt: Date.now() - TTL_MS - 1 });
    await a.calls.save(old);
    expect(await b.calls.find('r-expired')).toBeUndefined();
  });

  it('two instances taking a second comparison for one request at once both replace, never add', async () => {
    const requestId = 'r-swap';
    await shareRequest(a.redis, requestId);
    const shadowCall = call(requestId);
    a.calls.add(shadowCall);
    await a.calls.save(shadowCall);
    // First comparison on A; then B and A each take a second one at once, each believing the
    // first is what it replaces, and B a third believing there was none at all.
    await a.log.append(comparison(requestId, [1, 0], null, 'c1'));
    await Promise.all([
      b.log.append(comparison(requestId, [0, 1], [1, 0], 'c2')),
      a.log.append(comparison(requestId, [0.5, 0.5], [1, 0], 'c3')),
      b.log.append(comparison(requestId, [0, 1], null, 'c4')),
    ]);
    await until(() => a.state.applied() === b.state.applied() && a.state.applied() >= 4);
    // The last in stream order is what stands: one comparison, of that verdict, on both.
    const stored = JSON.parse((await a.redis.hget(sharedRequestKey(PREFIX, requestId), 'cmp'))!) as { scores: number[] };
    const last = stored.scores[1] === 1 ? 'SHADOW' : 'TIE';
    const tally = { comparisons: 1, shadowPreferred: last === 'SHADOW' ? 1 : 0, primaryPreferred: 0, ties: last === 'TIE' ? 1 : 0 };
    expect(a.state.comparisons().get('swift')).toEqual(tally);
    expect(b.state.comparisons().get('swift')).toEqual(tally);
    expect(a.state.snapshot().stats).toEqual(b.state.snapshot().stats);
    // The posteriors hold exactly one comparison's evidence: prior Beta(1, 1) plus the last scores.
    const posterior = (i: Instance, armId: string) => {
      const { alpha, beta } = i.stats.posterior(armId, 'code');
      return [alpha, beta];
    };
    for (const i of [a, b]) {
      expect(posterior(i, 'swift')).toEqual([1 + stored.scores[1]!, 1 + (1 - stored.scores[1]!)]);
      expect(posterior(i, 'flash')).toEqual([1 + stored.scores[0]!, 1 + (1 - stored.scores[0]!)]);
    }
    // The instance that ran the call keeps its copy's comparison current; the other reads it from Redis.
    expect(a.calls.get(requestId)!.comparison?.preferred).toBe(last);
    expect((await b.calls.find(requestId))!.comparison?.preferred).toBe(last);
  });
});
