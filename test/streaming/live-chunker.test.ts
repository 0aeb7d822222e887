import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/router/random.js';
import { chunkLiveTokens, isSpace } from '../../src/streaming/live-chunker.js';
import type { StreamChunk } from '../../src/streaming/word-chunks.js';
import { createManualTimers, createTokenSource, settle, track } from './controllable.js';

function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w !== '').length;
}

function setup(maxWords = 20, flushIntervalMs = 50) {
  const clock = createManualTimers();
  const source = createTokenSource();
  const chunks = chunkLiveTokens(source.iterable, { maxWords, flushIntervalMs, timers: clock.timers });
  return { clock, source, chunks };
}

describe('chunkLiveTokens', () => {
  it('sends the first chunk as soon as the first token arrives, without waiting for more', async () => {
    const { clock, source, chunks } = setup();
    const first = track(chunks.next());
    await settle();
    expect(first.settled).toBe(false);
    expect(source.state.pulls).toBe(1);

    source.push('Hello');
    await settle();
    // The source has not produced a second token and the clock has not moved.
    expect(first.settled).toBe(true);
    expect(first.value).toEqual({ value: { text: 'Hello', words: 1 }, done: false });
    expect(clock.now()).toBe(0);
    expect(source.state.pulls).toBe(1);
  });

  it('sends the complete words of the first token at once and carries its growing word', async () => {
    const { clock, source, chunks } = setup();
    source.push('Hello wor');
    expect((await chunks.next()).value).toEqual({ text: 'Hello ', words: 1 });
    source.push('ld again');
    await settle();
    const second = track(chunks.next());
    await settle();
    expect(second.settled).toBe(false);
    await clock.advance(50);
    expect(second.value?.value).toEqual({ text: 'world ', words: 1 });
  });

  it('coalesces tokens within the flush interval and flushes on the timer with no new token', async () => {
    const { clock, source, chunks } = setup();
    source.push('First ');
    await chunks.next();
    const second = track(chunks.next());
    source.push('the ');
    await settle();
    await clock.advance(10);
    source.push('quick ');
    await settle();
    await clock.advance(10);
    source.push('brown fo');
    await settle();
    await clock.advance(29);
    expect(second.settled).toBe(false);
    // The window began with "the " at t=0; at t=50 it flushes although the source stays silent.
    await clock.advance(1);
    expect(second.value?.value).toEqual({ text: 'the quick brown ', words: 3 });
    expect(source.state.pulls).toBe(5);

    // "fo" was carried; once it completes, the next flush sends it whole.
    const third = track(chunks.next());
    source.push('x jumps');
    await settle();
    await clock.advance(50);
    expect(third.value?.value).toEqual({ text: 'fox ', words: 1 });
  });

  it('sends a word that outlives a whole second window as it is', async () => {
    const { clock, source, chunks } = setup();
    source.push('Start ');
    await chunks.next();
    const next = track(chunks.next());
    source.push('supercalifragilistic');
    await settle();
    await clock.advance(50);
    expect(next.settled).toBe(false);
    await clock.advance(50);
    expect(next.value?.value).toEqual({ text: 'supercalifragilistic', words: 1 });
    source.push('expialidocious done');
    source.end();
    const rest: StreamChunk[] = [];
    for await (const chunk of chunks) rest.push(chunk);
    // The tail of the split word does not count as a new word.
    expect(rest).toEqual([{ text: 'expialidocious done', words: 1 }]);
  });

  it('flushes as soon as a chunk reaches maxWords', async () => {
    const { clock, source, chunks } = setup(3);
    source.push('zero ');
    await chunks.next();
    source.push('a b c d e f g h');
    const got = [await chunks.next(), await chunks.next()].map((r) => r.value);
    expect(got).toEqual([
      { text: 'a b c ', words: 3 },
      { text: 'd e f ', words: 3 },
    ]);
    expect(clock.now()).toBe(0);
    source.end();
    expect((await chunks.next()).value).toEqual({ text: 'g h', words: 2 });
    expect((await chunks.next()).done).toBe(true);
  });

  it('reproduces random token streams exactly, with at most maxWords words per chunk', async () => {
    const rng = createRng(11);
    const alphabet = ['a', 'b', 'ß', '文', ' ', ' ', '\n', '.'];
    for (let run = 0; run < 150; run++) {
      const maxWords = 1 + Math.floor(rng() * 6);
      const { clock, source, chunks } = setup(maxWords, 20);
      const tokens: string[] = [];
      const tokenCount = Math.floor(rng() * 40);
      for (let i = 0; i < tokenCount; i++) {
        let token = '';
        const length = Math.floor(rng() * 5);
        for (let j = 0; j < length; j++) token += alphabet[Math.floor(rng() * alphabet.length)]!;
        tokens.push(token);
      }
      const received: StreamChunk[] = [];
      const consumer = (async () => {
        for await (const chunk of chunks) received.push(chunk);
      })();
      for (const token of tokens) {
        source.push(token);
        await clock.advance(Math.floor(rng() * 30));
      }
      source.end();
      await consumer;
      const text = tokens.join('');
      expect(received.map((c) => c.text).join('')).toBe(text);
      expect(received.reduce((sum, c) => sum + c.words, 0)).toBe(countWords(text));
      for (const chunk of received) {
        expect(chunk.words).toBeLessThanOrEqual(maxWords);
        expect(chunk.text).not.toBe('');
      }
      expect(clock.pendingCount()).toBe(0);
    }
  });

  it('calls return() on the source at once, while a next() is still waiting on it', async () => {
    const { clock, source, chunks } = setup();
    source.push('Hello ');
    await chunks.next();
    source.push('wor');
    const waiting = track(chunks.next());
    await settle();
    expect(clock.pendingCount()).toBe(1);

    const closing = chunks.return!();
    expect(source.state.returned).toBe(true);
    await closing;
    await settle();
    expect(waiting.value).toEqual({ value: undefined, done: true });
    expect(clock.pendingCount()).toBe(0);
    expect(await chunks.next()).toEqual({ value: undefined, done: true });
  });

  it('stops the source when a for-await loop breaks', async () => {
    const { source, chunks } = setup();
    source.push('one two ');
    for await (const chunk of chunks) {
      expect(chunk.text).toBe('one two ');
      break;
    }
    expect(source.state.returned).toBe(true);
  });

  it('delivers what it holds before passing on the source error', async () => {
    const { source, chunks } = setup();
    source.push('Hello ');
    await chunks.next();
    source.push('there general');
    const buffered = track(chunks.next());
    await settle();
    source.fail(new Error('upstream broke'));
    await settle();
    expect(buffered.value?.value).toEqual({ text: 'there general', words: 2 });
    await expect(chunks.next()).rejects.toThrow('upstream broke');
    expect(await chunks.next()).toEqual({ value: undefined, done: true });
  });

  it('works on the system clock', async () => {
    async function* slowTokens() {
      for (const token of ['Streaming ', 'on ', 'real ', 'timers ', 'works.']) {
        await new Promise((resolve) => setTimeout(resolve, 3));
        yield token;
      }
    }
    const received: StreamChunk[] = [];
    for await (const chunk of chunkLiveTokens(slowTokens(), { maxWords: 20, flushIntervalMs: 5 })) received.push(chunk);
    expect(received.map((c) => c.text).join('')).toBe('Streaming on real timers works.');
    expect(received[0]!.text).toBe('Streaming ');
  });
});

describe('chunkLiveTokens: batches, timers and buffering', () => {
  it('takes a batch token by token: the chunks are those of the same tokens arriving one by one', async () => {
    const rng = createRng(23);
    const alphabet = ['a', 'b', 'ß', '文', ' ', ' ', '\n', '.'];
    for (let run = 0; run < 100; run++) {
      const maxWords = 1 + Math.floor(rng() * 6);
      const tokens = Array.from({ length: Math.floor(rng() * 40) }, () =>
        Array.from({ length: Math.floor(rng() * 5) }, () => alphabet[Math.floor(rng() * alphabet.length)]!).join(''),
      );
      // Cut the same tokens into batches of random sizes.
      const batches: string[][] = [];
      for (let i = 0; i < tokens.length; ) {
        const size = 1 + Math.floor(rng() * 6);
        batches.push(tokens.slice(i, i + size));
        i += size;
      }
      const read = async (feed: (source: ReturnType<typeof createTokenSource>) => void) => {
        const clock = createManualTimers();
        const source = createTokenSource();
        const chunks = chunkLiveTokens(source.iterable, { maxWords, flushIntervalMs: 20, timers: clock.timers });
        feed(source);
        source.end();
        const received: StreamChunk[] = [];
        for await (const chunk of chunks) received.push(chunk);
        return received;
      };
      const oneByOne = await read((source) => tokens.forEach((t) => source.push(t)));
      const batched = await read((source) => batches.forEach((b) => source.pushBatch(b)));
      expect(batched).toEqual(oneByOne);
    }
  });

  it('arms one timer per flush window, however many tokens arrive in it', async () => {
    const { clock, source, chunks } = setup(1_000, 50);
    source.push('Start ');
    await chunks.next();
    const second = track(chunks.next());
    for (let i = 0; i < 200; i++) {
      source.push(`w${i} `);
      await settle();
    }
    expect(second.settled).toBe(false);
    expect(clock.delays).toEqual([50]);
    await clock.advance(50);
    expect(second.value?.value?.words).toBe(200);
  });

  it('return() while chunks are buffered and a read is waiting: ends at once, stops the source, clears the timer', async () => {
    const { clock, source, chunks } = setup(2);
    source.push('zero ');
    await chunks.next();
    // Three full chunks are cut at once; the consumer takes one and leaves with the rest buffered.
    source.pushBatch(['a b ', 'c d ', 'e f ', 'partial']);
    expect((await chunks.next()).value).toEqual({ text: 'a b ', words: 2 });
    const closing = chunks.return!();
    expect(source.state.returned).toBe(true);
    expect(await closing).toEqual({ value: undefined, done: true });
    expect(await chunks.next()).toEqual({ value: undefined, done: true });
    expect(clock.pendingCount()).toBe(0);
  });

  it('a source that stalls after a burst: buffered words go out at the window, the growing word one window later, one read stays pending', async () => {
    const { clock, source, chunks } = setup(20, 50);
    source.pushBatch(['The ', 'quick ', 'brown ', 'fox ', 'jum']);
    expect((await chunks.next()).value).toEqual({ text: 'The ', words: 1 });
    const second = track(chunks.next());
    await settle();
    const pullsWhileStalled = source.state.pulls;
    await clock.advance(49);
    expect(second.settled).toBe(false);
    await clock.advance(1);
    expect(second.value?.value).toEqual({ text: 'quick brown fox ', words: 3 });
    // "jum" has now outlived one flush: at the next it goes out as it is.
    const third = track(chunks.next());
    await clock.advance(49);
    expect(third.settled).toBe(false);
    await clock.advance(1);
    expect(third.value?.value).toEqual({ text: 'jum', words: 1 });
    // The stalled read was never abandoned, and never asked for twice.
    expect(source.state.pulls).toBe(pullsWhileStalled);
    source.push('ps over');
    source.end();
    const rest: StreamChunk[] = [];
    for await (const chunk of chunks) rest.push(chunk);
    expect(rest).toEqual([{ text: 'ps over', words: 1 }]);
    expect(clock.pendingCount()).toBe(0);
  });

  it('a source error after buffered chunks: the chunks first, then the error, nothing after', async () => {
    const { source, chunks } = setup(2);
    source.push('zero ');
    await chunks.next();
    source.pushBatch(['a b c d ', 'tail']);
    expect((await chunks.next()).value).toEqual({ text: 'a b ', words: 2 });
    // The source fails while "c d " is cut and "tail" is buffered.
    source.fail(new Error('reset mid-stream'));
    expect((await chunks.next()).value).toEqual({ text: 'c d ', words: 2 });
    expect((await chunks.next()).value).toEqual({ text: 'tail', words: 1 });
    await expect(chunks.next()).rejects.toThrow('reset mid-stream');
    expect(await chunks.next()).toEqual({ value: undefined, done: true });
  });

  it('reads whitespace exactly as \\s does, for every UTF-16 code unit', () => {
    for (let code = 0; code <= 0xffff; code++) {
      if (isSpace(code) !== /\s/.test(String.fromCharCode(code))) throw new Error(`U+${code.toString(16)} differs`);
    }
  });
});

describe('chunkLiveTokens: the flush timer is armed at the end of the turn', () => {
  it('arms no timer when the read a consumer waits on completes within the same turn', async () => {
    const { clock, source, chunks } = setup();
    source.push('Hello wor');
    expect((await chunks.next()).value).toEqual({ text: 'Hello ', words: 1 });
    const rest = chunks.next();
    // The end arrives before this turn's microtasks have run, as from a model whose answer is buffered.
    source.end();
    expect((await rest).value).toEqual({ text: 'wor', words: 1 });
    await settle();
    expect(clock.delays).toEqual([]);
    expect(clock.pendingCount()).toBe(0);
    expect((await chunks.next()).done).toBe(true);
  });

  it('arms the same deadline one turn later when the read is still pending, and flushes on it', async () => {
    const { clock, source, chunks } = setup();
    source.push('Hello wor');
    await chunks.next();
    const rest = track(chunks.next());
    expect(clock.delays).toEqual([]);
    await settle();
    // The window began when "wor" was carried, at t=0: the timer is due at t=50 as before.
    expect(clock.delays).toEqual([50]);
    await clock.advance(49);
    expect(rest.settled).toBe(false);
    await clock.advance(1);
    expect(rest.value?.value).toEqual({ text: 'wor', words: 1 });
    await chunks.return?.();
    expect(clock.pendingCount()).toBe(0);
  });
});
