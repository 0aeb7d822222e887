import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/router/random.js';
import { pacingDelayMs } from '../../src/streaming/pacing.js';
import {
  chunkCompleteText,
  chunkWordsForConfidence,
  splitIntoWordChunks,
  type StreamChunk,
} from '../../src/streaming/word-chunks.js';
import { createManualTimers, settle, track } from './controllable.js';

const bounds = { minWords: 4, maxWords: 20 };

function countWords(text: string): number {
  return text.split(/\s+/).filter((w) => w !== '').length;
}

async function collect(iterable: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const chunks: StreamChunk[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return chunks;
}

describe('chunkWordsForConfidence', () => {
  it('grows monotonically with confidence and stays within the bounds', () => {
    let previous = 0;
    for (let i = 0; i <= 1000; i++) {
      const words = chunkWordsForConfidence(i / 1000, bounds);
      expect(words).toBeGreaterThanOrEqual(previous);
      expect(words).toBeGreaterThanOrEqual(4);
      expect(words).toBeLessThanOrEqual(20);
      previous = words;
    }
    expect(chunkWordsForConfidence(0, bounds)).toBe(4);
    expect(chunkWordsForConfidence(1, bounds)).toBe(20);
    expect(chunkWordsForConfidence(0.5, bounds)).toBe(12);
  });

  it('clamps out-of-range confidence and treats NaN as no confidence', () => {
    expect(chunkWordsForConfidence(-3, bounds)).toBe(4);
    expect(chunkWordsForConfidence(7, bounds)).toBe(20);
    expect(chunkWordsForConfidence(Number.NaN, bounds)).toBe(4);
    expect(chunkWordsForConfidence(Number.POSITIVE_INFINITY, bounds)).toBe(20);
    expect(chunkWordsForConfidence(0.7, { minWords: 6, maxWords: 6 })).toBe(6);
  });

  it('rejects bounds that make no sense', () => {
    expect(() => chunkWordsForConfidence(0.5, { minWords: 0, maxWords: 4 })).toThrow(RangeError);
    expect(() => chunkWordsForConfidence(0.5, { minWords: 9, maxWords: 4 })).toThrow(RangeError);
    expect(() => chunkWordsForConfidence(0.5, { minWords: 1.5, maxWords: 4 })).toThrow(RangeError);
  });
});

describe('splitIntoWordChunks', () => {
  const texts = [
    'The quick brown fox jumps over the lazy dog.',
    '  leading and trailing whitespace  \n',
    'lines\n\nwith\tTabs and   many    spaces, ünïcödé 文字 and emoji 👍🏽 too',
    'single',
    '   ',
    '',
  ];

  it('reproduces the text exactly, with whole words and the requested count per chunk', () => {
    for (const text of texts) {
      for (const size of [1, 2, 3, 4, 20]) {
        const chunks = splitIntoWordChunks(text, size);
        expect(chunks.map((c) => c.text).join('')).toBe(text);
        expect(chunks.reduce((sum, c) => sum + c.words, 0)).toBe(countWords(text));
        chunks.forEach((chunk, i) => {
          expect(chunk.words).toBe(countWords(chunk.text));
          if (i < chunks.length - 1) expect(chunk.words).toBe(size);
          else expect(chunk.words).toBeLessThanOrEqual(size);
          // No word is split: every chunk but the last ends in whitespace.
          if (i < chunks.length - 1) expect(chunk.text).toMatch(/\s$/);
        });
      }
    }
  });

  it('makes chunk sizes follow confidence', () => {
    const text = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    const confident = splitIntoWordChunks(text, chunkWordsForConfidence(0.95, bounds));
    const unsure = splitIntoWordChunks(text, chunkWordsForConfidence(0.1, bounds));
    expect(confident[0]!.words).toBe(19);
    expect(unsure[0]!.words).toBe(6);
    expect(confident.length).toBeLessThan(unsure.length);
  });

  it('keeps random texts intact', () => {
    const rng = createRng(7);
    const pieces = ['a', 'bb', 'ccc', ' ', '  ', '\n', '\t', 'dé', '👍'];
    for (let run = 0; run < 300; run++) {
      let text = '';
      const length = Math.floor(rng() * 60);
      for (let i = 0; i < length; i++) text += pieces[Math.floor(rng() * pieces.length)]!;
      const size = 1 + Math.floor(rng() * 6);
      const chunks = splitIntoWordChunks(text, size);
      expect(chunks.map((c) => c.text).join('')).toBe(text);
      expect(chunks.reduce((sum, c) => sum + c.words, 0)).toBe(countWords(text));
    }
  });
});

describe('chunkCompleteText', () => {
  const text = 'one two three four five six seven eight nine ten';

  it('sends the first chunk at once and waits delayMs only between chunks', async () => {
    const clock = createManualTimers();
    const iterator = chunkCompleteText(text, { wordsPerChunk: 3, delayMs: 80, timers: clock.timers });

    const first = await iterator.next();
    expect(first.value).toEqual({ text: 'one two three ', words: 3 });
    expect(clock.delays).toEqual([]);

    const second = track(iterator.next());
    await settle();
    expect(second.settled).toBe(false);
    await clock.advance(79);
    expect(second.settled).toBe(false);
    await clock.advance(1);
    expect(second.settled).toBe(true);
    expect(second.value?.value).toEqual({ text: 'four five six ', words: 3 });

    const rest: StreamChunk[] = [];
    for (;;) {
      const next = track(iterator.next());
      await clock.advance(80);
      const result = next.value!;
      if (result.done) break;
      rest.push(result.value);
    }
    expect(rest.map((c) => c.text)).toEqual(['seven eight nine ', 'ten']);
    // 4 chunks, so exactly 3 pauses, and none after the last chunk.
    expect(clock.delays).toEqual([80, 80, 80]);
    expect(clock.pendingCount()).toBe(0);
  });

  it('does not pause at all with delay 0', async () => {
    const clock = createManualTimers();
    const chunks = await collect(chunkCompleteText(text, { wordsPerChunk: 4, delayMs: 0, timers: clock.timers }));
    expect(chunks.map((c) => c.text).join('')).toBe(text);
    expect(clock.delays).toEqual([]);
  });

  it('stops mid-delay when the signal aborts', async () => {
    const clock = createManualTimers();
    const abort = new AbortController();
    const iterator = chunkCompleteText(text, {
      wordsPerChunk: 2,
      delayMs: 150,
      signal: abort.signal,
      timers: clock.timers,
    });
    await iterator.next();
    const waiting = track(iterator.next());
    await settle();
    expect(clock.pendingCount()).toBe(1);
    abort.abort();
    await settle();
    expect(waiting.settled).toBe(true);
    expect(waiting.value).toEqual({ value: undefined, done: true });
    expect(clock.pendingCount()).toBe(0);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('stops mid-delay on return()', async () => {
    const clock = createManualTimers();
    const iterator = chunkCompleteText(text, { wordsPerChunk: 2, delayMs: 150, timers: clock.timers });
    await iterator.next();
    const waiting = track(iterator.next());
    await settle();
    await iterator.return!();
    await settle();
    expect(waiting.value).toEqual({ value: undefined, done: true });
    expect(clock.pendingCount()).toBe(0);
  });

  it('sends nothing when the signal is already aborted', async () => {
    const abort = new AbortController();
    abort.abort();
    expect(await collect(chunkCompleteText(text, { wordsPerChunk: 2, delayMs: 10, signal: abort.signal }))).toEqual([]);
  });

  it('paces with real timers too', async () => {
    const chunks = await collect(chunkCompleteText(text, { wordsPerChunk: 5, delayMs: 5 }));
    expect(chunks.map((c) => c.text).join('')).toBe(text);
  });
});

describe('pacingDelayMs', () => {
  const pacing = { minMs: 30, maxMs: 150 };

  it('derives the delay from the measured speed', () => {
    // 8 words at 40 tokens/s * 0.75 words/token = 30 words/s: 266.7 ms, clamped to 150.
    expect(pacingDelayMs(40, 8, pacing)).toBe(150);
    // 6 words at 100 tokens/s: 6 / 75 s = 80 ms.
    expect(pacingDelayMs(100, 6, pacing)).toBeCloseTo(80, 9);
    // 4 words at 1000 tokens/s: 5.3 ms, raised to the 30 ms floor.
    expect(pacingDelayMs(1000, 4, pacing)).toBe(30);
  });

  it('falls back to the floor without a measured speed and is off when maxMs is 0', () => {
    expect(pacingDelayMs(null, 8, pacing)).toBe(30);
    expect(pacingDelayMs(0, 8, pacing)).toBe(30);
    expect(pacingDelayMs(Number.NaN, 8, pacing)).toBe(30);
    expect(pacingDelayMs(40, 8, { minMs: 30, maxMs: 0 })).toBe(0);
  });

  it('is monotone: slower arms and bigger chunks never wait less', () => {
    let previous = 0;
    for (const tps of [5000, 1000, 300, 100, 50, 20, 5]) {
      const delay = pacingDelayMs(tps, 10, pacing);
      expect(delay).toBeGreaterThanOrEqual(previous);
      previous = delay;
    }
  });
});
