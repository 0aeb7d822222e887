import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

/**
 * Per-key limits hold at their exact boundary: across two real gateway processes sharing one real
 * redis-server, and in one process without Redis. Requests and streams are counted at admission
 * (exact under concurrency); tokens and spend when a chat ends (exact for chats one after another).
 */

/** The chats here pin an arm, which a key may do with the pin scope. */
const PINNING = ['chat', 'feedback', 'read', 'pin'];
const ENV = {
  RPM_KEY: 'sk-rpm-00112233445566778',
  STREAMS_KEY: 'sk-streams-8899aabbccddeeff',
  TOKENS_KEY: 'sk-tokens-0f1e2d3c4b5a6978',
  BUDGET_KEY: 'sk-budget-a1b2c3d4e5f60718',
};
const RPM = 7;
const STREAMS = 3;
/** Every chat here has the same prompt and 10 completion tokens, so it uses the same tokens and money. */
const ANSWER_TOKENS = 10;
/** $0.001 per completion token: $0.01 per chat. */
const BUDGET_USD = 0.025;

function config(redisUrl?: string): Record<string, unknown> {
  const model = (id: string, tokensPerSecond: number) => ({
    id,
    provider: 'simulated',
    ttftMs: 0,
    tokensPerSecond,
    errorRate: 0,
    inputPer1k: 0,
    outputPer1k: 1,
    answerTokens: ANSWER_TOKENS,
  });
  return {
    logLevel: 'warn',
    models: [model('m-fast', 0), { ...model('m-slow', 2), answerTokens: 200 }],
    arms: [
      { id: 'fast', model: 'm-fast' },
      { id: 'slow', model: 'm-slow' },
    ],
    cache: { enabled: false },
    shadow: { rate: 0 },
    streaming: { pacing: { minMs: 0, maxMs: 0 } },
    // A command slower than the timeout falls back to per-instance counts (by design); on a loaded
    // machine 250 ms is not enough to keep this test about the shared counts.
    ...(redisUrl ? { redis: { url: redisUrl, commandTimeoutMs: 5_000 } } : {}),
    auth: {
      keys: [
        { id: 'rpm', env: 'RPM_KEY', scopes: PINNING, limits: { requestsPerMinute: RPM } },
        { id: 'streams', env: 'STREAMS_KEY', scopes: PINNING, limits: { concurrentStreams: STREAMS } },
        // Set from the measured tokens of one chat, below.
        { id: 'tokens', env: 'TOKENS_KEY', scopes: PINNING, limits: { tokensPerMinute: 1_000_000 } },
        { id: 'budget', env: 'BUDGET_KEY', scopes: PINNING, limits: { budgetUsdPerDay: BUDGET_USD } },
      ],
    },
  };
}

const PROMPT = [{ role: 'user', content: 'Count the same tokens every time.' }];

async function complete(base: string, key: string, body: Record<string, unknown> = {}) {
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'fast', messages: PROMPT, ...body }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as any };
}

/** Opens a streaming chat on the slow arm and waits for its first chunk; `close()` leaves it. */
async function openStream(base: string, key: string) {
  const controller = new AbortController();
  const response = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'slow', messages: PROMPT, stream: true }),
    signal: controller.signal,
  });
  if (response.status !== 200) {
    const body = (await response.json()) as any;
    return { status: response.status, code: body.error.code as string, close: () => undefined };
  }
  const reader = response.body!.getReader();
  await reader.read();
  return { status: 200, code: null, close: () => controller.abort() };
}

function sharedLimitTests(bases: () => readonly string[], tokensKey: () => string) {
  const at = (i: number) => bases()[i % bases().length]!;

  it(`admits exactly ${RPM} of 12 concurrent requests in a minute`, async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => complete(at(i), ENV.RPM_KEY)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(RPM);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - RPM);
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(refused.retryAfter)).toBeLessThanOrEqual(60);
  });

  it(`holds exactly ${STREAMS} concurrent streams, and frees a slot when one ends`, async () => {
    const open = [];
    for (let i = 0; i < STREAMS; i++) open.push(await openStream(at(i), ENV.STREAMS_KEY));
    expect(open.map((s) => s.status)).toEqual(Array(STREAMS).fill(200));
    for (let i = 0; i < bases().length; i++) {
      expect(await openStream(at(i), ENV.STREAMS_KEY)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    }
    open.shift()!.close();
    // The slot is freed when the gateway sees the client leave; until then a new stream is refused.
    let next = await openStream(at(1), ENV.STREAMS_KEY);
    for (let attempt = 0; next.status !== 200 && attempt < 200; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      next = await openStream(at(1), ENV.STREAMS_KEY);
    }
    expect(next.status).toBe(200);
    open.push(next);
    expect(await openStream(at(0), ENV.STREAMS_KEY)).toMatchObject({ status: 429 });
    for (const stream of open) stream.close();
  });

  it('stops a key at its tokens per minute: admitted while below, refused once reached', async () => {
    // tokensPerMinute is 2.5 chats' tokens: chats 1-3 are admitted (0, 1 and 2 chats used), the 4th is not.
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await complete(at(i), tokensKey()));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    expect(results[3]!.body.error.code).toBe('RATE_LIMITED');
  });

  it('stops a key at its day budget, counting the routed arm cost', async () => {
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await complete(at(i), ENV.BUDGET_KEY));
    expect(results.slice(0, 3).map((r) => r.body.switchyard?.costUsd)).toEqual([0.01, 0.01, 0.01]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    expect(results[3]!.body.error.code).toBe('BUDGET_EXHAUSTED');
  });
}

/** The tokens one chat uses, measured through a key without limits on a throwaway gateway. */
async function tokensPerChat(): Promise<number> {
  const probe = await startGateway({ config: { ...config(), auth: { keys: [{ id: 'probe', env: 'TOKENS_KEY', scopes: PINNING }] }, logLevel: 'silent' }, env: ENV });
  try {
    const { body } = await complete(probe.url.replace(/\/graphql$/, ''), ENV.TOKENS_KEY);
    return body.usage.total_tokens as number;
  } finally {
    await probe.close();
  }
}

describe.skipIf(skipWithoutRedis())('limits across two gateway processes sharing one redis-server', () => {
  let redis: RedisServerHandle;
  const gateways: SwitchyardProcess[] = [];
  beforeAll(async () => {
    const perChat = await tokensPerChat();
    redis = await startRedisServer();
    const shared = config(redis.url) as { auth: { keys: Array<{ id: string; limits: Record<string, number> }> } };
    shared.auth.keys.find((k) => k.id === 'tokens')!.limits.tokensPerMinute = Math.floor(2.5 * perChat);
    gateways.push(...(await Promise.all([0, 1].map(() => spawnSwitchyard({ config: shared, env: ENV })))));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await redis?.stop();
  });

  sharedLimitTests(
    () => gateways.map((g) => g.url.replace(/\/graphql$/, '')),
    () => ENV.TOKENS_KEY,
  );
});

describe('limits in one gateway without Redis', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    const perChat = await tokensPerChat();
    const alone = config() as { auth: { keys: Array<{ id: string; limits: Record<string, number> }> } };
    alone.auth.keys.find((k) => k.id === 'tokens')!.limits.tokensPerMinute = Math.floor(2.5 * perChat);
    gateway = await startGateway({ config: { ...alone, logLevel: 'silent' }, env: ENV });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  sharedLimitTests(
    () => [gateway.url.replace(/\/graphql$/, '')],
    () => ENV.TOKENS_KEY,
  );
});
