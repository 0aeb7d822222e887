import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestStore, type RequestRecord } from '../../src/chat/request-store.js';
import { createSharedRequestStore, sharedRequestKey, sharedSessionKey, type SharedRequestStore } from '../../src/chat/shared-request-store.js';
import { createSilentLogger, type Logger } from '../../src/logger.js';
import { createCapturingLogger } from '../helpers/gateway.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

/** recentRequests on any instance: two shared request stores (two "instances") over one real redis-server. */

const TTL_MS = 60_000;

const record = (id: string, session: string | null, createdAt: number, status: RequestRecord['status'] = 'completed'): RequestRecord => ({
  id,
  createdAt,
  owner: null,
  client: null,
  tokenDigest: 'ab'.repeat(32),
  status,
  decision: null,
  shared: false,
  cached: false,
  cacheKey: null,
  attempts: 1,
  finishReason: 'stop',
  errorCode: null,
  metrics: null,
  feedback: null,
  session,
});

describe.skipIf(skipWithoutRedis())('shared request store: recentRequests across instances (real Redis)', () => {
  let server: RedisServerHandle;
  const clients: Redis[] = [];
  const stores: SharedRequestStore[] = [];
  const instance = async (logger: Logger = createSilentLogger()) => {
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    redis.on('error', () => undefined);
    clients.push(redis);
    // Without an offline queue a command before the connection is ready fails (as the gateway's do).
    await new Promise((resolve) => redis.once('ready', resolve));
    const store = createSharedRequestStore({
      local: createRequestStore({ maxRequests: 1_000, ttlMs: TTL_MS }),
      redis,
      keyPrefix: 'test:',
      ttlMs: TTL_MS,
      logger,
      canReshare: () => false,
    });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await startRedisServer();
  }, 30_000);
  afterAll(async () => {
    for (const store of stores) store.close();
    for (const redis of clients) redis.disconnect();
    await server?.stop();
  });

  it("lists a session's requests served by any instance, newest first, this instance's in-flight ones included", async () => {
    const a = await instance();
    // A's own client: the first one made in this file may be another test's, whose server was restarted.
    const redisA = clients.at(-1)!;
    const b = await instance();
    const now = Date.now();
    for (const [store, r] of [
      [a, record('r1', 'session:s', now - 50)],
      [b, record('r2', 'session:s', now - 40)],
      [a, record('r3', 'session:other', now - 30)],
      [a, record('r4', 'session:s', now - 20)],
    ] as const) {
      store.add(r);
      await store.save(r);
    }
    // Streaming on B: not shared yet, listed by B only.
    b.add(record('r5', 'session:s', now - 10, 'streaming'));
    expect((await b.recent('session:s', 10)).map((r) => r.id)).toEqual(['r5', 'r4', 'r2', 'r1']);
    expect((await a.recent('session:s', 10)).map((r) => r.id)).toEqual(['r4', 'r2', 'r1']);
    expect((await a.recent('session:s', 2)).map((r) => r.id)).toEqual(['r4', 'r2']);
    expect((await b.recent('session:other', 10)).map((r) => r.id)).toEqual(['r3']);
    // A WebSocket connection's session lives on one instance: not listed in Redis.
    const onConnection = record('r6', 'connection:c1', now);
    a.add(onConnection);
    await a.save(onConnection);
    expect((await a.recent('connection:c1', 10)).map((r) => r.id)).toEqual(['r6']);
    expect(await redisA.exists('test:session:connection:c1')).toBe(0);
    // The shared listing expires with the window.
    const ttl = await redisA.pttl('test:session:session:s');
    expect(ttl).toBeGreaterThan(TTL_MS - 5_000);
  });

  it('Redis unreachable: lists this instance\'s requests instead of failing', async () => {
    const a = await instance();
    const r = record('r-local', 'session:down', Date.now());
    a.add(r);
    await a.save(r);
    await server.kill();
    try {
      expect((await a.recent('session:down', 10)).map((x) => x.id)).toEqual(['r-local']);
    } finally {
      await server.start();
    }
  });

  it('a shared record this version cannot read is no record, warned once per kind by path, never by value; unknown fields are dropped', async () => {
    const log = createCapturingLogger('warn');
    const reader = await instance(log.logger);
    const redis = clients.at(-1)!;
    const key = (id: string) => sharedRequestKey('test:', id);
    const { feedback: _, ...stored } = record('r-template', null, Date.now());
    const shared = (id: string, fields: Record<string, unknown> = {}) => JSON.stringify({ ...stored, id, ...fields });

    await redis.hset(key('r-garbled'), 'r', '{"id": "r-garbled", "status": ');
    expect(await reader.find('r-garbled')).toBeUndefined();
    // Wrong types and a value out of its enum: none of the record's values reach the log.
    await redis.hset(key('r-wrong'), 'r', shared('r-wrong', { status: 'SECRET-status', attempts: 'SECRET-attempts', metrics: { latencyMs: -1 } }));
    expect(await reader.find('r-wrong')).toBeUndefined();
    // A record missing fields is not handed out half-filled.
    await redis.hset(key('r-half'), 'r', JSON.stringify({ id: 'r-half', status: 'completed' }));
    expect(await reader.find('r-half')).toBeUndefined();
    // A readable record with a score this version cannot read: no record either (its score would be wrong).
    await redis.hset(key('r-bad-fb'), 'r', shared('r-bad-fb'), 'fb', JSON.stringify({ scores: ['SECRET-up'] }));
    expect(await reader.find('r-bad-fb')).toBeUndefined();
    await redis.hset(key('r-garbled-fb'), 'r', shared('r-garbled-fb'), 'fb', '{"scores": [');
    expect(await reader.find('r-garbled-fb')).toBeUndefined();
    // The same kind again: warned about once.
    await redis.hset(key('r-garbled-2'), 'r', '{');
    expect(await reader.find('r-garbled-2')).toBeUndefined();

    const warnings = log.lines.map((line) => JSON.parse(line) as { requestId: string; field: string; issues: string[] });
    expect(warnings.map((w) => [w.requestId, w.field])).toEqual([
      ['r-garbled', 'r'],
      ['r-wrong', 'r'],
      ['r-half', 'r'],
      ['r-bad-fb', 'fb'],
      ['r-garbled-fb', 'fb'],
    ]);
    expect(warnings[0]!.issues).toEqual(['(root): invalid_json']);
    expect(warnings[1]!.issues).toEqual(expect.arrayContaining(['status: invalid_value', 'attempts: invalid_type', 'metrics.latencyMs: too_small']));
    expect(warnings[3]!.issues).toEqual(['scores.0: invalid_type']);
    expect(log.lines.join('\n')).not.toContain('SECRET');

    // A newer version's extra fields: the record is read, without them.
    const newer = { ...record('r-newer', null, stored.createdAt), feedback: { score: 0.75, weight: 0.5, comment: 'ok', receivedAt: 1 } };
    await redis.hset(
      key('r-newer'),
      'r',
      shared('r-newer', { reasoning: 'a newer field' }),
      'fb',
      JSON.stringify({ scores: [0.75], weights: [0.5], comment: 'ok', receivedAt: 1, judge: 'a newer field' }),
    );
    expect(await reader.find('r-newer')).toEqual(newer);

    // Listed for a session: the unreadable record is left out, the others still listed.
    const now = Date.now();
    const listed = sharedSessionKey('test:', 'session:mixed');
    await redis.hset(key('r-listed-ok'), 'r', shared('r-listed-ok', { session: 'session:mixed', createdAt: now - 10 }));
    await redis.hset(key('r-listed-bad'), 'r', shared('r-listed-bad', { session: 'session:mixed', createdAt: 'yesterday' }));
    await redis.zadd(listed, now - 10, 'r-listed-ok', now, 'r-listed-bad');
    expect((await reader.recent('session:mixed', 10)).map((r) => r.id)).toEqual(['r-listed-ok']);
  });
});
