import { ABORTED, TIMED_OUT, raceTimeoutAndAbort, systemStreamTimers, type StreamTimers } from './stream-timers.js';
import type { StreamChunk } from './word-chunks.js';

/**
 * Coalesces a live token stream into whole-word chunks without ever delaying it by more than the
 * flush interval (see docs/streaming-and-analyzer.md, "Live streams").
 *
 * A flush emits the buffer up to and including the whitespace after its last complete word (a word
 * is complete once whitespace follows it) and carries a trailing word that may still be growing
 * into the next chunk. When the buffer holds no complete word, a flush that must not wait emits it
 * as it is: the first token, a word already carried through one whole flush window, and the end of
 * the stream. Those are the only places a word can be split across chunks.
 */

export interface LiveChunkOptions {
  /** Most words one chunk may hold; reaching it flushes at once. */
  readonly maxWords: number;
  /** Longest a chunk may keep coalescing tokens after it began; default 50. */
  readonly flushIntervalMs?: number;
  readonly timers?: StreamTimers;
}

export const DEFAULT_FLUSH_INTERVAL_MS = 50;

interface WordSpan {
  readonly start: number;
  readonly end: number;
  /** False for the tail of a word whose beginning went out in the previous chunk. */
  readonly counted: boolean;
}

const HAS_TEXT = /\S/;

/** Why `closed` aborts. Without a reason, abort() builds a DOMException (and its stack) per stream. */
const CLOSED = Symbol('live chunker closed');

/** Words that whitespace already follows, without allocating: the cheap test before a full split. */
function countCompleteWords(buffer: string, continuesWord: boolean): number {
  let count = 0;
  let inWord = false;
  let counted = !continuesWord;
  for (let i = 0; i < buffer.length; i++) {
    const code = buffer.charCodeAt(i);
    const space = code === 32 || code === 10 || code === 9 || code === 13 || code === 12 || code === 11 || (code > 127 && /\s/.test(buffer[i]!));
    if (space) {
      if (inWord && counted) count++;
      inWord = false;
      counted = true;
    } else {
      inWord = true;
    }
  }
  return count;
}

function wordSpans(buffer: string, continuesWord: boolean): WordSpan[] {
  const spans: WordSpan[] = [];
  for (const match of buffer.matchAll(/\S+/g)) {
    const start = match.index;
    spans.push({ start, end: start + match[0].length, counted: !(start === 0 && continuesWord) });
  }
  return spans;
}

export function chunkLiveTokens(
  tokens: AsyncIterable<string>,
  options: LiveChunkOptions,
): AsyncIterableIterator<StreamChunk> {
  const { maxWords } = options;
  if (!Number.isInteger(maxWords) || maxWords < 1) {
    throw new RangeError(`maxWords must be a positive integer, got ${maxWords}`);
  }
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  const timers = options.timers ?? systemStreamTimers;
  const upstream = tokens[Symbol.asyncIterator]();
  const closed = new AbortController();

  const ready: StreamChunk[] = [];
  let buffer = '';
  /** Whether the last emitted chunk ended inside a word (so the buffer may start with its tail). */
  let lastEndedInWord = false;
  let windowStart = 0;
  /** The buffer's trailing partial word already outlived one flush. */
  let carried = false;
  let firstSent = false;
  let inFlight: Promise<IteratorResult<string>> | null = null;
  let upstreamDone = false;
  let upstreamError: { error: unknown } | null = null;

  const emit = (end: number, spans: readonly WordSpan[]): void => {
    const text = buffer.slice(0, end);
    const words = spans.filter((s) => s.counted && s.start < end).length;
    ready.push({ text, words });
    lastEndedInWord = /\S$/.test(text);
    buffer = buffer.slice(end);
    windowStart = timers.now();
    carried = buffer.length > 0 && /\S$/.test(buffer);
  };

  /**
   * Emits complete words; with `force`, emits everything when there is no complete word. Bare
   * whitespace shows the reader nothing, so it waits for the next word (or the end of the stream).
   */
  const flush = (force: boolean): void => {
    if (!HAS_TEXT.test(buffer)) return;
    const spans = wordSpans(buffer, lastEndedInWord);
    const last = spans.at(-1);
    const partialStart = last && last.end === buffer.length ? last.start : buffer.length;
    if (/\S/.test(buffer.slice(0, partialStart))) emit(partialStart, spans);
    else if (force) emit(buffer.length, spans);
    else {
      // Nothing whole to send yet: give the growing word one more window, then send it regardless.
      carried = true;
      windowStart = timers.now();
    }
  };

  const emitRest = (): void => emit(buffer.length, wordSpans(buffer, lastEndedInWord));

  const flushFullChunks = (): void => {
    for (;;) {
      if (countCompleteWords(buffer, lastEndedInWord) < maxWords) return;
      const spans = wordSpans(buffer, lastEndedInWord);
      const complete = spans.filter((s) => s.counted && s.end < buffer.length);
      if (complete.length < maxWords) return;
      const lastWord = complete[maxWords - 1]!;
      const next = spans.find((s) => s.start > lastWord.start);
      emit(next ? next.start : buffer.length, spans);
    }
  };

  const onToken = (token: string): void => {
    if (token === '') return;
    if (!HAS_TEXT.test(buffer)) windowStart = timers.now();
    buffer += token;
    if (!firstSent && HAS_TEXT.test(buffer)) {
      firstSent = true;
      flush(true);
    }
    flushFullChunks();
  };

  const finish = (): IteratorResult<StreamChunk> => {
    closed.abort(CLOSED);
    return { value: undefined, done: true };
  };

  const pull = async (): Promise<IteratorResult<StreamChunk>> => {
    for (;;) {
      if (closed.signal.aborted) return { value: undefined, done: true };
      const chunk = ready.shift();
      if (chunk) return { value: chunk, done: false };
      if (upstreamError) {
        const { error } = upstreamError;
        finish();
        throw error;
      }
      if (upstreamDone) {
        if (buffer === '') return finish();
        emitRest();
        continue;
      }
      inFlight ??= upstream.next();
      const untilFlush = HAS_TEXT.test(buffer) ? windowStart + flushIntervalMs - timers.now() : null;
      if (untilFlush !== null && untilFlush <= 0) {
        flush(carried);
        continue;
      }
      let result: IteratorResult<string> | typeof TIMED_OUT | typeof ABORTED;
      try {
        result = await raceTimeoutAndAbort(timers, inFlight, untilFlush, closed.signal);
      } catch (error) {
        inFlight = null;
        upstreamError = { error };
        // What is already buffered still reaches the consumer before the error does.
        if (buffer !== '') emitRest();
        continue;
      }
      if (result === ABORTED) return { value: undefined, done: true };
      if (result === TIMED_OUT) continue;
      inFlight = null;
      if (result.done) upstreamDone = true;
      else onToken(result.value);
    }
  };

  // Consumers may call next() again before the previous call settles; serve them in order.
  let queue: Promise<unknown> = Promise.resolve();

  return {
    next() {
      const result = queue.then(pull);
      queue = result.catch(() => undefined);
      return result;
    },
    async return() {
      if (!closed.signal.aborted) {
        closed.abort(CLOSED);
        // Called right away, not after a pending next() settles, so the model call aborts now.
        const pending = inFlight;
        pending?.catch(() => undefined);
        void Promise.resolve(upstream.return?.()).catch(() => undefined);
      }
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
