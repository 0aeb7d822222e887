import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ArmsDocument,
  CacheDocument,
  ChatDocument,
  InvalidateCacheDocument,
  SubmitFeedbackDocument,
  type ChatSubscription,
} from '../../src/client/generated/graphql.js';
import type { SwitchyardClient } from '../../src/client/switchyard-client.js';
import type { SimulatedModelConfig } from '../../src/config/schema.js';
import type { CompletionRequest, ModelBackend } from '../../src/models/backend.js';
import { createSimulatedBackend } from '../../src/models/simulated-backend.js';
import {
  createCapturingLogger,
  startGateway,
  testConfigInput,
  type RunningGateway,
} from '../helpers/gateway.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { spawnSwitchyard } from '../helpers/switchyard-process.js';

type ChatEvent = ChatSubscription['chat'];
type Route = Extract<ChatEvent, { __typename: 'ChatRoute' }>;
type Done = Extract<ChatEvent, { __typename: 'ChatDone' }>;


interface ChatOutcome {
  readonly events: ChatEvent[];
  readonly route: Route;
  readonly done: Done;
  readonly text: string;
}

/** One whole chat; fails the test on any GraphQL error or ChatError. */
async function chat(
  client: SwitchyardClient,
  content: string,
  options: { cache?: boolean; temperature?: number; arm?: string } = {},
): Promise<ChatOutcome> {
  const events: ChatEvent[] = [];
  const input = {
    messages: [{ role: 'USER' as const, content }],
    cache: options.cache,
    temperature: options.temperature,
    arm: options.arm,
  };
  for await (const result of client.subscribe(ChatDocument, { input })) {
    expect(result.errors).toBeUndefined();
    events.push(result.data!.chat);
  }
  const route = events[0];
  const done = events.at(-1);
  if (route?.__typename !== 'ChatRoute') throw new Error(`first event is ${route?.__typename}`);
  if (done?.__typename !== 'ChatDone') throw new Error(`last event is ${JSON.stringify(done)}`);
  const chunks = events.slice(1, -1);
  // The whole stream from its start: indices 0, 1, 2, … and nothing but chunks in between.
  chunks.forEach((chunk, index) => expect(chunk.__typename === 'ChatChunk' && chunk.index).toBe(index));
  const text = chunks.map((chunk) => (chunk.__typename === 'ChatChunk' ? chunk.text : '')).join('');
  return { events, route, done, text };
}

async function totalPulls(client: SwitchyardClient): Promise<number> {
  const { arms } = await client.request(ArmsDocument, {});
  return arms.reduce((sum, arm) => sum + arm.pulls, 0);
}

async function health(gateway: { url: string }): Promise<{ httpStatus: number; body: Record<string, unknown> }> {
  const response = await fetch(gateway.url.replace(/\/graphql$/, '/health'));
  return { httpStatus: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Short Redis timeouts and backoff so the fault tests recover quickly; a count on every `cache` query. */
function cachedConfig(redisUrl: string | undefined, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return testConfigInput({
    redis: {
      url: redisUrl,
      keyPrefix: 'cache-test:',
      commandTimeoutMs: 300,
      connectTimeoutMs: 500,
      retryBaseMs: 20,
      retryMaxMs: 200,
    },
    cache: { l2: { statsRefreshMs: 1 } },
    ...overrides,
  });
}

/** Answers in the shared Redis (the test config recounts on every `cache` query). */
async function l2Entries(client: SwitchyardClient): Promise<number> {
  return (await client.request(CacheDocument, {})).cache.l2.entries ?? 0;
}

/** Waits until the shared Redis holds at least `entries` answers: the L2 write is not awaited by the chat. */
async function waitForL2Entries(client: SwitchyardClient, entries: number): Promise<void> {
  await expect.poll(() => l2Entries(client), { timeout: 5_000 }).toBeGreaterThanOrEqual(entries);
}

describe.skipIf(skipWithoutRedis())('cache through the gateway, with a real Redis', () => {
  let redis: RedisServerHandle;
  let gateway: RunningGateway;
  const log = createCapturingLogger('info');
  const logCount = (fragment: string) => log.lines.filter((line) => line.includes(fragment)).length;

  beforeAll(async () => {
    redis = await startRedisServer();
    gateway = await startGateway({ config: cachedConfig(redis.url), logger: log.logger });
    // expect.poll only works inside a test; vi.waitFor retries until the check stops throwing.
    await vi.waitFor(async () => {
      const { cache } = await gateway.client.request(CacheDocument, {});
      if (cache.status !== 'OK') throw new Error(`cache is ${cache.status}`);
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await redis?.stop();
  });

  it('serves a repeated chat from L1: cached route, same text, no cost, no arm pulled', async () => {
    const first = await chat(gateway.client, 'What is a cache?');
    expect(first.route.cached).toBe(false);
    const pulls = await totalPulls(gateway.client);

    const second = await chat(gateway.client, 'What is a cache?');
    expect(second.route).toMatchObject({ cached: true, attempts: 0, arm: first.route.arm, model: first.route.model });
    expect(second.text).toBe(first.text);
    expect(second.text.length).toBeGreaterThan(0);
    expect(second.done.metrics.costUsd).toBe(0);
    expect(second.done.metrics.completionTokens).toBe(first.done.metrics.completionTokens);
    expect(await totalPulls(gateway.client)).toBe(pulls);

    const { cache } = await gateway.client.request(CacheDocument, {});
    expect(cache.status).toBe('OK');
    expect(cache.l1).toMatchObject({ status: 'OK', hits: 1 });
    expect(cache.l1.entries).toBeGreaterThanOrEqual(1);
    expect(cache.l2.status).toBe('OK');
    expect(cache.ttl.baseSeconds).toBeGreaterThanOrEqual(cache.ttl.minSeconds);
    expect(cache.ttl.baseSeconds).toBeLessThanOrEqual(cache.ttl.maxSeconds);
  });

  it('serves from L2 in a second Switchyard process an answer the first one stored', async () => {
    const before = await l2Entries(gateway.client);
    const stored = await chat(gateway.client, 'Shared between processes?');
    expect(stored.route.cached).toBe(false);
    await waitForL2Entries(gateway.client, before + 1);

    const second = await spawnSwitchyard({ config: cachedConfig(redis.url, { logLevel: 'info' }), env: { REDIS_URL: redis.url } });
    try {
      // The process listens before its Redis connection is ready (until then it serves without L2).
      await expect.poll(async () => (await second.client.request(CacheDocument, {})).cache.status).toBe('OK');
      const served = await chat(second.client, 'Shared between processes?');
      expect(served.route.cached).toBe(true);
      expect(served.route.arm).toBe(stored.route.arm);
      expect(served.text).toBe(stored.text);
      expect(served.done.metrics.costUsd).toBe(0);
      const { cache } = await second.client.request(CacheDocument, {});
      expect(cache.l2).toMatchObject({ status: 'OK', hits: 1 });
      expect(cache.l1.hits).toBe(0);
      // The L2 hit filled the second process' L1.
      expect((await chat(second.client, 'Shared between processes?')).route.cached).toBe(true);
      expect((await second.client.request(CacheDocument, {})).cache.l1.hits).toBe(1);
    } finally {
      await second.stop();
    }
  });

  it('evicts an answer on negative feedback, from L1 and L2', async () => {
    const before = await l2Entries(gateway.client);
    await chat(gateway.client, 'Disliked answer?');
    await waitForL2Entries(gateway.client, before + 1);
    const served = await chat(gateway.client, 'Disliked answer?');
    expect(served.route.cached).toBe(true);

    const { submitFeedback } = await gateway.client.request(SubmitFeedbackDocument, {
      input: { requestId: served.route.requestId, feedbackToken: served.route.feedbackToken, thumbs: 'DOWN' },
    });
    expect(submitFeedback).toMatchObject({ evicted: true, learned: false });
    // Not in L1 and not in L2 (an L1 miss asks L2, which would answer cached: true).
    expect((await chat(gateway.client, 'Disliked answer?')).route.cached).toBe(false);
  });

  it('bypasses the cache for cache: false and for temperatures above the threshold', async () => {
    await chat(gateway.client, 'Bypass me?');
    expect((await chat(gateway.client, 'Bypass me?')).route.cached).toBe(true);
    const pulls = await totalPulls(gateway.client);
    const bypassed = await chat(gateway.client, 'Bypass me?', { cache: false });
    expect(bypassed.route.cached).toBe(false);
    expect(await totalPulls(gateway.client)).toBe(pulls + 1);

    // cache.maxTemperature is 0.5 by default.
    const hot = await chat(gateway.client, 'Hot question?', { temperature: 0.9 });
    expect(hot.route.cached).toBe(false);
    expect((await chat(gateway.client, 'Hot question?', { temperature: 0.9 })).route.cached).toBe(false);
    expect((await chat(gateway.client, 'Hot question?', { temperature: 0.5 })).route.cached).toBe(false);
    expect((await chat(gateway.client, 'Hot question?', { temperature: 0.5 })).route.cached).toBe(true);
  });

  it('invalidates by prefix and entirely through the admin mutation', async () => {
    // Start from an empty cache so that the counts below are exact.
    await gateway.client.request(InvalidateCacheDocument, {});
    expect(await l2Entries(gateway.client)).toBe(0);
    const pinned = await chat(gateway.client, 'Pinned question?', { arm: 'best' });
    const routed = await chat(gateway.client, 'Routed question?');
    expect([pinned.route.cached, routed.route.cached]).toEqual([false, false]);
    await waitForL2Entries(gateway.client, 2);

    const removedPinned = await gateway.client.request(InvalidateCacheDocument, { prefix: 'arm/best/' });
    expect(removedPinned.invalidateCache).toBe(2); // its L1 entry and its L2 value
    expect((await chat(gateway.client, 'Pinned question?', { arm: 'best' })).route.cached).toBe(false);
    expect((await chat(gateway.client, 'Routed question?')).route.cached).toBe(true);

    const removedAll = await gateway.client.request(InvalidateCacheDocument, { prefix: null });
    // The pinned answer (stored again by the chat above) and the routed one, each in L1 and L2.
    expect(removedAll.invalidateCache).toBe(4);
    expect((await chat(gateway.client, 'Routed question?')).route.cached).toBe(false);
    const { cache } = await gateway.client.request(CacheDocument, {});
    expect(cache.l1.entries).toBe(1); // only the answer just stored
  });

  // Last: it kills and restarts the file's Redis.
  it('keeps serving when Redis dies mid-run, reports degraded once, and recovers by itself', async () => {
    const peer = await startGateway({ config: cachedConfig(redis.url) });
    try {
      await expect.poll(async () => (await peer.client.request(CacheDocument, {})).cache.status).toBe('OK');
      const warm = await chat(gateway.client, 'Warm before the crash?');

      const during = Promise.all(Array.from({ length: 10 }, (_, i) => chat(gateway.client, `During the crash ${i}?`)));
      await redis.kill();
      const outcomes = await during; // `chat` fails on any error event
      expect(outcomes).toHaveLength(10);

      for (let i = 0; i < 10; i += 1) await chat(gateway.client, `After the crash ${i}?`);
      // L1 still serves what it holds.
      expect((await chat(gateway.client, 'Warm before the crash?')).text).toBe(warm.text);
      expect((await chat(gateway.client, 'Warm before the crash?')).route.cached).toBe(true);

      await expect.poll(async () => (await gateway.client.request(CacheDocument, {})).cache.status).toBe('DEGRADED');
      const { cache } = await gateway.client.request(CacheDocument, {});
      expect(cache.l1.status).toBe('OK');
      expect(cache.l2.status).toBe('DEGRADED');
      const down = await health(gateway);
      expect(down.httpStatus).toBe(200);
      expect(down.body).toMatchObject({ status: 'degraded', cache: 'degraded' });
      expect(logCount('cache L2 (Redis) lost')).toBe(1);

      await redis.restart();
      await expect
        .poll(async () => (await gateway.client.request(CacheDocument, {})).cache.status, { timeout: 10_000 })
        .toBe('OK');
      await expect.poll(async () => (await peer.client.request(CacheDocument, {})).cache.status).toBe('OK');
      expect((await health(gateway)).body).toMatchObject({ status: 'ok', cache: 'ok' });
      expect(logCount('cache L2 (Redis) lost')).toBe(1);
      expect(logCount('cache L2 (Redis) recovered')).toBe(1);

      // L2 works again: what this instance stores, the peer serves from Redis.
      const fresh = await chat(gateway.client, 'Stored after recovery?');
      await waitForL2Entries(gateway.client, 1);
      const fromPeer = await chat(peer.client, 'Stored after recovery?');
      expect(fromPeer.route.cached).toBe(true);
      expect(fromPeer.text).toBe(fresh.text);
    } finally {
      await peer.close();
    }
  });
});

describe('cache without Redis configured', () => {
  it('serves from L1, reports the cache degraded with L2 disabled, /health ok (no Redis was asked for), and logs it once', async () => {
    const log = createCapturingLogger('info');
    const gateway = await startGateway({ config: cachedConfig(undefined), logger: log.logger });
    try {
      const first = await chat(gateway.client, 'No Redis here?');
      const second = await chat(gateway.client, 'No Redis here?');
      expect([first.route.cached, second.route.cached]).toEqual([false, true]);
      for (let i = 0; i < 5; i += 1) await chat(gateway.client, `More without Redis ${i}?`);

      const { cache } = await gateway.client.request(CacheDocument, {});
      expect(cache).toMatchObject({ status: 'DEGRADED', l1: { status: 'OK', hits: 1 }, l2: { status: 'DISABLED' } });
      expect(cache.l2).toMatchObject({ entries: null, bytes: null, countedAt: null });
      const report = await health(gateway);
      expect(report.httpStatus).toBe(200);
      expect(report.body).toMatchObject({ status: 'ok', cache: 'degraded', redis: 'not configured' });
      expect(log.lines.filter((line) => line.includes('no Redis configured')).length).toBe(1);
    } finally {
      await gateway.close();
    }
  });
});

describe('single flight', () => {
  it('makes one upstream call for 20 concurrent identical chats, and each client gets the whole stream', async () => {
    // Slow enough that all 20 subscriptions arrive while the first call is still running: 100 ms
    // to the first token, then 40 tokens at 400/s.
    const slow: SimulatedModelConfig = {
      id: 'm-slow',
      provider: 'simulated',
      ttftMs: 100,
      tokensPerSecond: 400,
      errorRate: 0,
      quality: 0.5,
      inputPer1k: 0.001,
      outputPer1k: 0.002,
      answerTokens: 40,
      timeouts: { connectMs: 1_000, firstTokenMs: 10_000, idleMs: 10_000, totalMs: 60_000 },
    };
    const inner = createSimulatedBackend(slow);
    let upstreamCalls = 0;
    const counted: ModelBackend = {
      ...inner,
      stream(request: CompletionRequest) {
        upstreamCalls += 1;
        return inner.stream(request);
      },
    };
    const gateway = await startGateway({
      config: { ...testConfigInput(), models: [slow], arms: [{ id: 'slow', model: 'm-slow' }] },
      backends: new Map([['m-slow', counted]]),
    });
    try {
      const outcomes = await Promise.all(Array.from({ length: 20 }, () => chat(gateway.client, 'Everyone asks this?')));
      expect(upstreamCalls).toBe(1);
      const texts = new Set(outcomes.map((outcome) => outcome.text));
      expect(texts.size).toBe(1);
      expect(outcomes.every((outcome) => outcome.route.cached === false)).toBe(true);
      expect(new Set(outcomes.map((outcome) => outcome.route.requestId)).size).toBe(20);
      expect(await totalPulls(gateway.client)).toBe(1);

      // The full text: the answer stored by the shared call is the one every client saw.
      const cached = await chat(gateway.client, 'Everyone asks this?');
      expect(cached.route.cached).toBe(true);
      expect(cached.text).toBe(outcomes[0]!.text);
      expect(cached.done.metrics.completionTokens).toBe(40);
      expect(upstreamCalls).toBe(1);
    } finally {
      await gateway.close();
    }
  });
});
