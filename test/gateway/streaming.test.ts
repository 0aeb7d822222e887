import { afterEach, describe, expect, it } from 'vitest';
import { ChatDocument, type ChatSubscription } from '../../src/client/generated/graphql.js';
import { chunkWordsForConfidence } from '../../src/streaming/word-chunks.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { createScriptedBackend, deferred } from '../helpers/scripted-backend.js';

type ChatEvent = ChatSubscription['chat'];
type Chunk = Extract<ChatEvent, { __typename: 'ChatChunk' }>;

interface Streamed {
  route: Extract<ChatEvent, { __typename: 'ChatRoute' }>;
  chunks: Chunk[];
  /** performance.now() at which each chunk reached the client. */
  arrivals: number[];
  done: Extract<ChatEvent, { __typename: 'ChatDone' }>;
}

async function stream(
  gateway: RunningGateway,
  input: { content: string; arm?: string; tags?: string[]; cache?: boolean },
  onChunk: (chunk: Chunk) => void = () => undefined,
): Promise<Streamed> {
  let route: Streamed['route'] | null = null;
  const chunks: Chunk[] = [];
  const arrivals: number[] = [];
  for await (const result of gateway.client.subscribe(ChatDocument, {
    input: { messages: [{ role: 'USER', content: input.content }], arm: input.arm, tags: input.tags, cache: input.cache ?? false },
  })) {
    expect(result.errors).toBeUndefined();
    const event = result.data!.chat;
    if (event.__typename === 'ChatRoute') route = event;
    else if (event.__typename === 'ChatChunk') {
      arrivals.push(performance.now());
      chunks.push(event);
      onChunk(event);
    } else if (event.__typename === 'ChatDone') {
      expect(event.chunks).toBe(chunks.length);
      return { route: route!, chunks, arrivals, done: event };
    } else throw new Error(`chat failed: ${event.code}`);
  }
  throw new Error('chat ended without done');
}

let gateway: RunningGateway | null = null;
afterEach(async () => {
  await gateway?.close();
  gateway = null;
});

describe('chunk size follows routing confidence', () => {
  it('streams bigger chunks for a confident route than for an uncertain one, live and from the cache', async () => {
    gateway = await startGateway({
      config: testConfigInput({
        // Only word counts flush live chunks, so sizes do not depend on how fast tokens arrive.
        streaming: { minWords: 4, maxWords: 20, flushIntervalMs: 60_000, pacing: { minMs: 0, maxMs: 0 } },
        shadow: { rate: 0 },
      }),
    });
    const g = gateway;
    const tags = ['streaming'];
    // Teach the bandit that "best" is good and the others are not: "best" becomes almost surely
    // best (confidence near 1), "weak" almost surely not (confidence near 0).
    // Trained through the chat service itself: the transport is not what this part is about.
    for (let i = 0; i < 12; i++) {
      for (const arm of ['weak', 'fair', 'good', 'best']) {
        let requestId = '';
        for await (const event of g.app.services.chat.chat({
          messages: [{ role: 'user', content: `training ${arm} ${i}` }],
          armId: arm,
          tags,
          cache: false,
        })) {
          requestId = event.requestId;
        }
        await g.app.services.chat.submitFeedback({ requestId, thumbs: arm === 'best' ? 'UP' : 'DOWN' });
      }
    }

    const bounds = { minWords: 4, maxWords: 20 };
    const sizes = new Map<string, number>();
    for (const arm of ['best', 'weak']) {
      const live = await stream(g, { content: `question for ${arm}`, arm, tags, cache: true });
      expect(live.route.cached).toBe(false);
      const expected = chunkWordsForConfidence(live.route.confidence, bounds);
      sizes.set(arm, expected);
      const words = live.chunks.map((c) => c.words);
      // The first chunk goes out with the first token (one word); every later chunk but the last is full.
      expect(words[0]).toBe(1);
      expect(words.slice(1, -1).every((w) => w === expected)).toBe(true);
      expect(words.at(-1)!).toBeLessThanOrEqual(expected);
      expect(words.reduce((a, b) => a + b, 0)).toBe(40);

      const replay = await stream(g, { content: `question for ${arm}`, arm, tags, cache: true });
      expect(replay.route.cached).toBe(true);
      const replayExpected = chunkWordsForConfidence(replay.route.confidence, bounds);
      const replayWords = replay.chunks.map((c) => c.words);
      expect(replayWords.slice(0, -1).every((w) => w === replayExpected)).toBe(true);
      expect(replayWords.at(-1)!).toBeLessThanOrEqual(replayExpected);
      expect(replay.chunks.map((c) => c.text).join('')).toBe(live.chunks.map((c) => c.text).join(''));
      for (const w of [...words.slice(1), ...replayWords]) {
        expect(w).toBeGreaterThanOrEqual(1);
        expect(w).toBeLessThanOrEqual(bounds.maxWords);
      }
    }
    expect(sizes.get('best')!).toBeGreaterThanOrEqual(18);
    expect(sizes.get('weak')!).toBeLessThanOrEqual(6);
  });
});

describe('pacing', () => {
  it('spaces the chunks of a cached answer by at least the configured minimum', async () => {
    gateway = await startGateway({
      config: testConfigInput({
        streaming: { minWords: 10, maxWords: 10, pacing: { minMs: 40, maxMs: 40 } },
        shadow: { rate: 0 },
      }),
    });
    const first = await stream(gateway, { content: 'pace me', arm: 'fair', cache: true });
    expect(first.route.cached).toBe(false);
    // Measured where the chunks are produced: arrival times at a client on a busy machine can
    // bunch up, the production times cannot.
    const produced: number[] = [];
    let cached = false;
    for await (const event of gateway.app.services.chat.chat({
      messages: [{ role: 'user', content: 'pace me' }],
      armId: 'fair',
    })) {
      if (event.type === 'route') cached = event.cached;
      if (event.type === 'chunk') produced.push(performance.now());
    }
    expect(cached).toBe(true);
    expect(produced).toHaveLength(4);
    const gaps = produced.slice(1).map((at, i) => at - produced[i]!);
    // A timer never fires before its delay; 1 ms allows for Node rounding timer deadlines.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(39);
  });

  it('never paces a live stream: with a one-minute pacing delay a live answer still completes at once', async () => {
    gateway = await startGateway({
      config: testConfigInput({
        streaming: { minWords: 10, maxWords: 10, pacing: { minMs: 60_000, maxMs: 60_000 } },
        shadow: { rate: 0 },
      }),
    });
    // Paced, these 4+ chunks would take 3 minutes: far past the test's timeout.
    const live = await stream(gateway, { content: 'do not pace me', arm: 'fair' });
    expect(live.route.cached).toBe(false);
    expect(live.chunks.length).toBeGreaterThanOrEqual(4);
  });
});

describe('live token streams', () => {
  it("sends the first chunk as soon as the model's first token arrives", async () => {
    const secondToken = deferred();
    const backend = createScriptedBackend('m-fair', { afterFirstToken: () => secondToken.promise });
    gateway = await startGateway({
      config: testConfigInput({ streaming: { flushIntervalMs: 60_000 }, shadow: { rate: 0 } }),
      backends: new Map([['m-fair', backend]]),
    });
    // The model sends nothing more until the client holds the first chunk: had the gateway held
    // the first token back (to coalesce or pace it), this would never finish.
    const live = await stream(gateway, { content: 'first token please', arm: 'fair' }, (chunk) => {
      if (chunk.index === 0) {
        expect(chunk.text).toBe('word0 ');
        expect(chunk.words).toBe(1);
        secondToken.resolve();
      }
    });
    expect(live.chunks.map((c) => c.text).join('')).toBe(Array.from({ length: 12 }, (_, i) => `word${i} `).join(''));
    expect(backend.calls()).toBe(1);
  });
});
