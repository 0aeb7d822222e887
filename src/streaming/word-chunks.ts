import type { StopSignal } from '../stop-signal.js';
import { ABORTED, raceTimeoutAndAbort, systemStreamTimers, type StreamTimers } from './stream-timers.js';

/**
 * Whole-word chunking of answer text. A word is a maximal run of non-whitespace characters; every
 * chunk carries the whitespace that follows its words, and the text's leading whitespace rides with
 * the first chunk, so joining the chunk texts gives back the answer exactly.
 */

export interface StreamChunk {
  readonly text: string;
  /** Words that begin in this chunk; summed over a stream this is the answer's word count. */
  readonly words: number;
}

export interface ChunkBounds {
  readonly minWords: number;
  readonly maxWords: number;
}

/**
 * Chunk size for a routing confidence (the posterior probability that the chosen arm is best):
 * `minWords + round(confidence * (maxWords - minWords))`. Linear, so it is monotone and hits both
 * bounds exactly; confidence is clamped to [0, 1] and NaN counts as 0, because an unknown
 * confidence deserves the small chunks of an uncertain route.
 */
export function chunkWordsForConfidence(confidence: number, bounds: ChunkBounds): number {
  const { minWords, maxWords } = bounds;
  if (!Number.isInteger(minWords) || minWords < 1 || !Number.isInteger(maxWords) || maxWords < minWords) {
    throw new RangeError(`chunk bounds must be integers with 1 <= minWords <= maxWords, got ${minWords}..${maxWords}`);
  }
  const clamped = Number.isNaN(confidence) ? 0 : Math.min(1, Math.max(0, confidence));
  return minWords + Math.round(clamped * (maxWords - minWords));
}

const WORD_WITH_TRAILING_SPACE = /\S+\s*/g;

/** Splits complete text into chunks of `wordsPerChunk` words (the last may hold fewer). */
export function splitIntoWordChunks(text: string, wordsPerChunk: number): StreamChunk[] {
  if (!Number.isInteger(wordsPerChunk) || wordsPerChunk < 1) {
    throw new RangeError(`wordsPerChunk must be a positive integer, got ${wordsPerChunk}`);
  }
  if (text === '') return [];
  const chunks: StreamChunk[] = [];
  let chunkStart = 0;
  let words = 0;
  for (const match of text.matchAll(WORD_WITH_TRAILING_SPACE)) {
    words += 1;
    if (words === wordsPerChunk) {
      const end = match.index + match[0].length;
      chunks.push({ text: text.slice(chunkStart, end), words });
      chunkStart = end;
      words = 0;
    }
  }
  if (chunkStart < text.length) chunks.push({ text: text.slice(chunkStart), words });
  return chunks;
}

export interface CompleteTextOptions {
  readonly wordsPerChunk: number;
  /** Pause before every chunk but the first; 0 sends them back to back. */
  readonly delayMs: number;
  /** Aborting ends the stream (without an error) at once, even mid-delay. */
  readonly signal?: StopSignal | undefined;
  readonly timers?: StreamTimers;
}

/**
 * Streams an answer that is already complete (a cache hit, a non-streaming provider) as
 * whole-word chunks paced `delayMs` apart, so a replayed answer reads like a live one.
 * `return()` and `signal` both stop it promptly; neither makes it throw.
 */
export function chunkCompleteText(text: string, options: CompleteTextOptions): AsyncIterableIterator<StreamChunk> {
  const chunks = splitIntoWordChunks(text, options.wordsPerChunk);
  const timers = options.timers ?? systemStreamTimers;
  const delayMs = Math.max(0, options.delayMs);
  const stop = new AbortController();
  const onExternalAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onExternalAbort, { once: true });
  if (options.signal?.aborted) stop.abort();
  let index = 0;

  const finish = (): IteratorResult<StreamChunk> => {
    options.signal?.removeEventListener('abort', onExternalAbort);
    stop.abort();
    return { value: undefined, done: true };
  };

  return {
    async next() {
      if (stop.signal.aborted || index >= chunks.length) return finish();
      if (index > 0 && delayMs > 0) {
        const waited = await raceTimeoutAndAbort(timers, null, delayMs, stop.signal);
        if (waited === ABORTED) return finish();
      }
      const chunk = chunks[index++]!;
      return { value: chunk, done: false };
    },
    async return() {
      return finish();
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
