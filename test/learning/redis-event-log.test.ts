import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedRequestKey } from '../../src/chat/shared-request-store.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { LearningEvent } from '../../src/learning/learning-events.js';
import { LEARNING_FORMAT_VERSION } from '../../src/learning/learning-format.js';
import { createLearningRules } from '../../src/learning/learning-rules.js';
import { createLearningState } from '../../src/learning/learning-state.js';
import { createRedisEventLog } from '../../src/learning/redis-event-log.js';
import { createLogger } from '../../src/logger.js';
import { createRedisClient } from '../../src/cache/redis-client.js';
import { createStats } from '../../src/router/create-policy.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

/**
 * The shared log meeting entries it cannot read, against a real redis-server: entries of a newer
 * format and malformed ones (a buggy or foreign writer) are skipped, counted and warned about once
 * per kind, with nothing of their content logged; the readable entries around them are applied
 * exactly as a reader that never met them would; a newer snapshot is neither loaded nor replaced.
 */

const config = parseConfig({ ...defaultConfig, bandit: { hierarchyStrength: 0, halfLife: 0 } });
const reward = createRewardCalculator(config.reward);
const NEWER = LEARNING_FORMAT_VERSION + 1;
const SECRET = 'content-that-must-not-reach-a-log';
const arm = config.arms[0]!.id;
const other = config.arms[1]!.id;

let server: RedisServerHandle | undefined;
const clients: Redis[] = [];
const skip = skipWithoutRedis();

beforeAll(async () => {
  if (!skip) server = await startRedisServer();
}, 30_000);
afterAll(async () => {
  for (const client of clients) client.disconnect();
  await server?.stop();
});

function instance(prefix: string, name: string, snapshotIntervalMs = 60_000) {
  const redis = new Redis(server!.url, { maxRetriesPerRequest: 1 });
  clients.push(redis);
  const lines: Array<Record<string, unknown> & { msg: string }> = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) });
  return { ...logOn(redis, prefix, name, logger, snapshotIntervalMs), lines };
}

function logOn(redis: Redis, prefix: string, name: string, logger: ReturnType<typeof createLogger>, snapshotIntervalMs = 60_000) {
  const state = createLearningState({ stats: createStats(config.bandit, reward, config.arms), rules: createLearningRules(reward), arms: config.arms, maxContexts: 10 });
  const log = createRedisEventLog({
    redis,
    state,
    keyPrefix: prefix,
    requestKey: (id) => sharedRequestKey(prefix, id),
    instanceId: name,
    maxBuffered: 1_000,
    snapshotIntervalMs,
    logger,
  });
  return { redis, state, log };
}

let counter = 0;
const envelope = () => ({ id: `ev-${++counter}`, origin: 'writer', at: counter });
const pull = (armId: string): LearningEvent => ({ type: 'pull', requestId: `r${counter}`, armId, context: 'code', ...envelope() });
const feedback = (armId: string, score: number): LearningEvent => ({
  type: 'judgement',
  kind: 'feedback',
  requestId: `r${counter}`,
  client: null,
  shared: false,
  verdicts: [{ armId, context: 'code', score, previous: null, costUsd: 0, latencyMs: 10 }],
  ...envelope(),
});

const until = async (check: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe.skipIf(skip)('the shared event log meeting entries it cannot read', () => {
  it('skips newer and malformed entries, applies the rest in order, counts them and warns once per kind', async () => {
    const prefix = 'formats-a:';
    const stream = `${prefix}learning:stream`;
    const writer = instance(prefix, 'writer');
    const control = instance(prefix, 'control');
    await writer.log.start();
    await writer.log.append(pull(arm));
    // What another writer put in the stream: a newer version's events (twice), a malformed event
    // of a known type, one of no known type, text that is not JSON, and judgements whose
    // replaced scores are not scores, or not JSON.
    const raw = writer.redis;
    await raw.xadd(stream, '*', 'e', JSON.stringify({ type: 'tool-call', tool: SECRET, ...envelope() }), 'p', '-', 'v', String(NEWER));
    await raw.xadd(stream, '*', 'e', JSON.stringify({ ...pull(arm), hint: SECRET }), 'p', '-', 'v', String(NEWER));
    await raw.xadd(stream, '*', 'e', JSON.stringify({ ...pull(arm), armId: 7, requestId: SECRET }), 'p', '-', 'v', '2');
    await raw.xadd(stream, '*', 'e', JSON.stringify({ type: SECRET, ...envelope() }), 'p', '-');
    await raw.xadd(stream, '*', 'e', `{"type":"pull","${SECRET}`, 'p', '-');
    await raw.xadd(stream, '*', 'e', JSON.stringify(feedback(arm, 1)), 'p', `{"scores":["${SECRET}"]}`);
    // Before, a 'p' that is not JSON threw before the reader moved past it: re-read for ever.
    await raw.xadd(stream, '*', 'e', JSON.stringify(feedback(arm, 1)), 'p', `{"scores": [${SECRET}`);
    await writer.log.append(feedback(other, 1));
    await writer.log.append(pull(other));

    const reader = instance(prefix, 'reader');
    await reader.log.start();
    // The control saw only the readable events: the reader must hold exactly its state.
    await control.log.start();
    expect(reader.log.status()).toMatchObject({ applied: 3, skipped: { newer: 2, malformed: 5 }, newerFormat: NEWER });
    expect(reader.state.snapshot()).toEqual(writer.state.snapshot());

    // Reading goes on past them: more of both, then a readable event, applied at once.
    await raw.xadd(stream, '*', 'e', JSON.stringify({ type: 'tool-call', ...envelope() }), 'p', '-', 'v', String(NEWER));
    await raw.xadd(stream, '*', 'e', 'null', 'p', '-');
    await writer.log.append(pull(arm));
    await until(() => reader.log.status().applied === 4);
    expect(reader.log.status().skipped).toEqual({ newer: 3, malformed: 6 });
    expect(reader.state.snapshot()).toEqual(writer.state.snapshot());

    const warnings = reader.lines.filter((line) => line.level === 40);
    const newer = warnings.filter((line) => line.msg.startsWith('learning events of a newer format'));
    expect(newer).toHaveLength(1);
    expect(newer[0]).toMatchObject({ version: NEWER, readable: LEARNING_FORMAT_VERSION });
    const malformed = warnings.filter((line) => line.msg.startsWith('malformed learning event'));
    // Once per kind: a malformed pull, a malformed judgement, and entries of no known type.
    expect(malformed.map((line) => line.type).sort()).toEqual(['judgement', 'pull', 'unknown']);
    expect(JSON.stringify(reader.lines)).not.toContain(SECRET);
    for (const { log } of [writer, control, reader]) await log.stop();
  }, 30_000);

  it('neither loads nor replaces a snapshot of a newer format, and writes its own once it is gone', async () => {
    const prefix = 'formats-b:';
    const snapshotKey = `${prefix}learning:snapshot`;
    const writer = instance(prefix, 'writer');
    await writer.log.start();
    await writer.log.append(pull(arm));
    await writer.log.append(pull(other));
    const newerState = JSON.stringify({ version: NEWER, stats: { learnt: SECRET } });
    await writer.redis.hset(snapshotKey, 'id', '1-0', 'state', newerState);
    const stored = async () => writer.redis.hgetall(snapshotKey);
    const before = await stored();

    const reader = instance(prefix, 'reader', 100);
    await reader.log.start();
    // Started from the stream's events, not from the snapshot it cannot read.
    expect(reader.state.snapshot()).toEqual(writer.state.snapshot());
    expect(reader.log.status().newerFormat).toBe(NEWER);
    await writer.log.append(pull(arm));
    await until(() => reader.log.status().applied === 3);
    // Several snapshot intervals, then a stop (which snapshots too): the newer snapshot is intact.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await reader.log.stop();
    expect(await stored()).toEqual(before);
    const warned = reader.lines.filter((line) => line.msg.startsWith('the shared learning snapshot is of a newer format'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ version: NEWER, readable: LEARNING_FORMAT_VERSION });
    expect(JSON.stringify(reader.lines)).not.toContain(SECRET);

    // An operator finishing a rollback deletes it: this build's own snapshot follows.
    await writer.redis.del(snapshotKey);
    const again = instance(prefix, 'again', 100);
    await again.log.start();
    await until(() => again.log.status().applied === 3);
    await again.log.append(pull(other));
    await new Promise((resolve) => setTimeout(resolve, 400));
    await again.log.stop();
    const written = await stored();
    expect(JSON.parse(written.state!)).toMatchObject({ version: LEARNING_FORMAT_VERSION, applied: 4 });
    await writer.log.stop();
  }, 30_000);
});

describe.skipIf(skip)('the shared event log starting', () => {
  // The gateway's own client: no offline queue, so a command on a connection not yet ready fails at once.
  // Built once its main connection is ready, the log's reading connection then still connecting:
  // what a loaded machine can make of app.start, which waits for the main connection only.
  async function productInstance(prefix: string, name: string, commandTimeoutMs = 250) {
    const redisConfig = parseConfig({ ...defaultConfig, redis: { url: server!.url, commandTimeoutMs } }).redis;
    const logger = createLogger('silent', { write: () => undefined });
    const redis = createRedisClient({ ...redisConfig, url: server!.url }, logger);
    clients.push(redis);
    await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    return logOn(redis, prefix, name, logger);
  }

  it('is caught up with the shared events before it serves, its main connection just ready', async () => {
    const prefix = 'start-a:';
    const writer = instance(prefix, 'writer');
    await writer.log.start();
    await writer.log.append(pull(arm));
    await writer.log.append(pull(other));
    for (let round = 0; round < 5; round++) {
      const reader = await productInstance(prefix, `reader-${round}`);
      await reader.log.start();
      // From the stream, or from the snapshot the previous round's stop wrote, and the stream after it.
      expect(reader.log.status().state).toBe('ok');
      expect(reader.state.snapshot()).toEqual(writer.state.snapshot());
      await reader.log.stop();
    }
    await writer.log.stop();
  }, 30_000);

  it('catches up on its own after a start-up command timed out, with nothing appended meanwhile', async () => {
    const prefix = 'start-b:';
    const writer = instance(prefix, 'writer');
    await writer.log.start();
    await writer.log.append(pull(arm));
    const reader = await productInstance(prefix, 'reader', 100);
    // Redis holds every client's commands past the reader's command timeout.
    await writer.redis.call('CLIENT', 'PAUSE', '400', 'ALL');
    await reader.log.start();
    expect(reader.log.status()).toMatchObject({ state: 'degraded', applied: 0 });
    await until(() => reader.log.status().state === 'ok' && reader.log.status().applied === 1);
    expect(reader.state.snapshot()).toEqual(writer.state.snapshot());
    await reader.log.stop();
    await writer.log.stop();
  }, 30_000);

  it('counts each unreadable entry once when the catch-up fails half way and is retried', async () => {
    const prefix = 'start-c:';
    const stream = `${prefix}learning:stream`;
    const control = instance(prefix, 'control');
    // More than two read batches, a newer and a malformed entry every 50 (12 of each), readable pulls between.
    const entries = control.redis.pipeline();
    for (let i = 0; i < 600; i++) {
      if (i % 50 === 0) entries.xadd(stream, '*', 'e', JSON.stringify({ ...pull(arm), hint: SECRET }), 'p', '-', 'v', String(NEWER));
      else if (i % 50 === 1) entries.xadd(stream, '*', 'e', 'null', 'p', '-');
      else entries.xadd(stream, '*', 'e', JSON.stringify(pull(i % 2 ? arm : other)), 'p', '-', 'v', String(LEARNING_FORMAT_VERSION));
    }
    await entries.exec();
    const reader = await productInstance(prefix, 'reader', 100);
    // The catch-up's second read waits behind a pause past the command timeout: the first batch
    // (six of each unreadable kind) is read and counted, the rest is left to the retry.
    const xread = reader.redis.xread.bind(reader.redis) as (...args: unknown[]) => Promise<unknown>;
    let reads = 0;
    (reader.redis as unknown as { xread: typeof xread }).xread = async (...args) => {
      reads += 1;
      if (reads === 2) await control.redis.call('CLIENT', 'PAUSE', '1000', 'ALL');
      return xread(...args);
    };
    await reader.log.start();
    expect(reader.log.status()).toMatchObject({ state: 'degraded', skipped: { newer: 6, malformed: 6 } });
    await until(() => reader.log.status().state === 'ok' && reader.log.status().applied >= 576);
    expect(reader.log.status()).toMatchObject({ applied: 576, skipped: { newer: 12, malformed: 12 } });
    await control.log.start();
    expect(control.log.status()).toMatchObject({ applied: 576, skipped: { newer: 12, malformed: 12 } });
    expect(reader.state.snapshot()).toEqual(control.state.snapshot());
    await reader.log.stop();
    await control.log.stop();
  }, 30_000);
});
