import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import type { ChatEvent } from '../../src/chat/chat-events.js';
import { createRequestStore, storedRequestRecordSchema, type RequestRecord } from '../../src/chat/request-store.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { StopController } from '../../src/stop-signal.js';
import { testConfigInput } from '../helpers/gateway.js';
import { createScriptedBackend } from '../helpers/scripted-backend.js';

/**
 * The request store keeps a finished record compact (rows of flat arrays, src/chat/record-rows.ts)
 * and rebuilds it on every read: what is read back is what was stored, field for field; feedback
 * and rewards go through the store, so every reader sees them; records go by age and count.
 */

const TTL_MS = 60_000;

/** Every field set to something other than its default. */
const full = (id: string, createdAt = Date.now()): RequestRecord => ({
  id,
  createdAt,
  owner: 'key-1',
  client: '10.0.0.7',
  tokenDigest: 'a1'.repeat(32),
  status: 'streaming',
  decision: {
    armId: 'best',
    modelId: 'model-b',
    context: 'chat/short',
    confidence: 0.7312345,
    pinned: true,
    explanation: {
      selection: 'policy',
      policy: 'thompson',
      candidates: [{ armId: 'best', sampledUtility: 0.9, meanUtility: 0.8, expectedCostUsd: null, chosen: true }],
      selectionProbability: 0.61,
    },
  },
  objective: { costWeight: 0.25, maxCostUsd: 0.01 },
  shared: true,
  cached: true,
  cacheKey: 'sy:cache:v1:abc',
  attempts: 3,
  finishReason: 'length',
  errorCode: 'UPSTREAM_TIMEOUT',
  metrics: { latencyMs: 123.456, ttftMs: 12.5, promptTokens: 17, completionTokens: 42, tokensEstimated: true, costUsd: 0.000123, reward: -0.25 },
  feedback: { score: 0.75, weight: 0.5, comment: 'fine', receivedAt: createdAt + 1_000.5 },
  session: 'session:abc',
});

/** Every nullable field null, an absent objective (a record kept before it existed), a digest not yet issued. */
const sparse = (id: string, createdAt = Date.now()): RequestRecord => ({
  id,
  createdAt,
  owner: null,
  client: null,
  tokenDigest: '',
  status: 'failed',
  decision: null,
  shared: false,
  cached: false,
  cacheKey: null,
  attempts: 0,
  finishReason: null,
  errorCode: 'EMPTY_MESSAGES',
  metrics: null,
  feedback: null,
  session: null,
});

const store = (maxRequests = 1_000) => createRequestStore({ maxRequests, ttlMs: TTL_MS });
/** What the journal and the shared store write of a record, read back through their schema. */
const stored = (record: Readonly<RequestRecord>) => storedRequestRecordSchema.parse(JSON.parse(JSON.stringify(record)));

describe('request store: compact finished records', () => {
  it('reads every field of a settled record back as it was, as the record itself until then', () => {
    const requests = store();
    const record = full('r1');
    requests.add(record);
    // Still streaming: the chat service's own object.
    expect(requests.get('r1')).toBe(record);
    const expected = structuredClone(record);
    requests.settle('r1');
    const read = requests.get('r1')!;
    expect(read).not.toBe(record);
    expect(read).toStrictEqual(expected);
    // A new object for every read, with the same journal and shared-store form.
    expect(requests.get('r1')).not.toBe(read);
    expect(stored(read)).toEqual(stored(expected));
    expect([...requests.all()]).toStrictEqual([expected]);
  });

  it('keeps a record added finished compact at once, nulls, an absent objective and any digest included', () => {
    const requests = store();
    const odd = { ...full('r2'), status: 'completed' as const, tokenDigest: 'not-hex', decision: { ...full('r2').decision!, explanation: undefined } };
    for (const record of [sparse('r1'), odd, { ...full('r3'), status: 'cancelled' as const, metrics: { ...full('r3').metrics!, ttftMs: null, reward: null } }]) {
      const expected = structuredClone(record);
      requests.add(record);
      expect(requests.get(record.id)).not.toBe(record);
      expect(requests.get(record.id)).toEqual(expected);
      expect(stored(requests.get(record.id)!)).toEqual(stored(expected));
    }
    expect(requests.get('r1')!.objective).toBeUndefined();
    expect(requests.get('r2')!.tokenDigest).toBe('not-hex');
  });

  it('takes feedback and rewards through the store: every later read sees them, packed or not', async () => {
    const requests = store();
    const record = { ...full('r1'), feedback: null };
    requests.add(record);
    const first = { score: 1, weight: 1, comment: null, receivedAt: 5 };
    requests.update('r1', { feedback: first });
    expect(record.feedback).toBe(first);
    requests.settle('r1');
    const replaced = { score: 0, weight: 1, comment: 'changed my mind', receivedAt: 6 };
    requests.update('r1', { feedback: replaced });
    requests.update('r1', { metrics: { ...record.metrics!, reward: 0 } });
    expect(requests.get('r1')!.feedback).toEqual(replaced);
    expect((await requests.find('r1'))!.metrics).toEqual({ ...record.metrics, reward: 0 });
    requests.update('r1', { feedback: null });
    expect(requests.get('r1')!.feedback).toBeNull();
    // Unknown: nothing to change.
    requests.update('nope', { feedback: first });
    expect(requests.get('nope')).toBeUndefined();
  });

  it('forgets records by age (from their creation) and by count (oldest added first, however often read)', async () => {
    const requests = store(3);
    const now = Date.now();
    requests.add({ ...sparse('old'), createdAt: now - TTL_MS - 1, session: 'session:s' });
    expect(requests.get('old')).toBeUndefined();
    expect(await requests.recent('session:s', 10)).toEqual([]);
    expect([...requests.all()]).toEqual([]);
    for (const id of ['a', 'b', 'c']) requests.add({ ...sparse(id, now), session: 'session:s' });
    // The expired one went as a newer one came.
    expect(requests.size()).toBe(3);
    expect(requests.get('a')).toBeDefined();
    requests.add({ ...sparse('d', now), session: 'session:s' });
    expect(requests.get('a')).toBeUndefined();
    expect((await requests.recent('session:s', 10)).map((r) => r.id)).toEqual(['d', 'c', 'b']);
    // Added again: replaced where it is, not moved.
    requests.add({ ...full('b', now), status: 'completed' });
    requests.add(sparse('e', now));
    expect(requests.get('b')).toBeUndefined();
    expect([...requests.all()].map((r) => r.id)).toEqual(['c', 'd', 'e']);
  });

  it('grows its rows as records come, up to its cap, and reads the oldest kept ones right after wrapping', () => {
    const requests = store(700);
    const now = Date.now();
    for (let i = 0; i < 1_000; i++) {
      requests.add({ ...full(`r${i}`, now + i), status: 'completed', attempts: i });
      // A streaming record in the middle of the ring, kept as it is.
      if (i === 900) requests.add({ ...full('live', now), attempts: -1 });
    }
    expect(requests.size()).toBe(700);
    expect(requests.get('r300')).toBeUndefined();
    for (const i of [301, 650, 999]) expect(requests.get(`r${i}`)).toEqual({ ...full(`r${i}`, now + i), status: 'completed', attempts: i });
    expect(requests.get('live')!.attempts).toBe(-1);
    expect([...requests.all()].map((r) => r.id).slice(0, 2)).toEqual(['r301', 'r302']);
  });
});

describe('request store: feedback through the chat service', () => {
  let app: App | null = null;
  afterEach(async () => {
    await app?.stop();
    app = null;
  });

  it('two concurrent scores for one settled request: the second replaces the first, as one judgement', async () => {
    const config = parseConfig(
      testConfigInput({
        models: [{ id: 'scripted', provider: 'simulated' }],
        arms: [{ id: 'only', model: 'scripted' }],
        router: { maxAttempts: 1 },
        shadow: { rate: 0 },
      }),
    );
    const backend = createScriptedBackend('scripted', { tokens: ['one ', 'two'] });
    app = buildApp({ config, logger: createLogger('silent'), env: {}, backends: new Map([['scripted', backend]]) });
    const { chat, router } = app.services;
    const events: ChatEvent[] = [];
    for await (const event of chat.stream({ messages: [{ role: 'user', content: 'hello' }], cache: false }, new StopController())) events.push(event);
    const done = events.at(-1)!;
    if (done.type !== 'done') throw new Error(`ended with ${done.type}`);
    const before = router.arm('only')!.posterior;

    const [up, down] = await Promise.all([
      chat.submitFeedback({ requestId: done.requestId, thumbs: 'UP' }),
      chat.submitFeedback({ requestId: done.requestId, thumbs: 'DOWN', comment: 'second' }),
    ]);
    expect([up.learned, down.learned]).toEqual([true, true]);
    const after = router.arm('only')!.posterior;
    // UP then DOWN replacing it: alpha back where it was, one quality weight on beta.
    expect(after.alpha).toBeCloseTo(before.alpha, 9);
    expect(after.beta - before.beta).toBeCloseTo(config.reward.quality, 9);
    const request = await chat.getRequest(done.requestId);
    expect(request!.feedback).toMatchObject({ score: 0, comment: 'second' });
    expect(request!.metrics!.reward).toBe(0);
  });
});
