import { DONE } from '../read-sink.js';
import { systemStreamTimers, type StreamTimers } from './stream-timers.js';
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
 *
 * The source may yield single tokens or batches of them (every token of one network read); a
 * batch is taken token by token, exactly as if they had come one after another at once.
 *
 * What a stream costs does not grow with its tokens: words are found once, as their characters are
 * appended; a chunk that is already cut is handed out without waiting (a resolved promise); a
 * consumer that must wait costs one promise, and the flush window one timer, armed at the end of
 * the turn and re-armed only when it fires early or the window moved earlier; no listener is added
 * per wait.
 */

export interface LiveChunkOptions {
  /** Most words one chunk may hold; reaching it flushes at once. */
  readonly maxWords: number;
  /** Longest a chunk may keep coalescing tokens after it began; default 50. */
  readonly flushIntervalMs?: number;
  readonly timers?: StreamTimers;
}

export const DEFAULT_FLUSH_INTERVAL_MS = 50;

/** Whether a UTF-16 code unit is `\s` (WhiteSpace or LineTerminator), as the word regexes read it. */
export function isSpace(code: number): boolean {
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

interface Waiter {
  readonly resolve: (result: IteratorResult<StreamChunk>) => void;
  readonly reject: (error: unknown) => void;
}

export function chunkLiveTokens(
  tokens: AsyncIterable<string | readonly string[]>,
  options: LiveChunkOptions,
): AsyncIterableIterator<StreamChunk> {
  const { maxWords } = options;
  if (!Number.isInteger(maxWords) || maxWords < 1) {
    throw new RangeError(`maxWords must be a positive integer, got ${maxWords}`);
  }
  return new LiveChunker(tokens[Symbol.asyncIterator](), maxWords, options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS, options.timers ?? systemStreamTimers);
}

class LiveChunker implements AsyncIterableIterator<StreamChunk> {
  private readonly ready: StreamChunk[] = [];
  private buffer = '';
  /** Where each word (maximal run of non-whitespace) of the buffer starts, in order. */
  private starts: number[] = [];
  /** The buffer ends inside a word (that word may still grow). */
  private inWord = false;
  /** Whether the last emitted chunk ended inside a word (so the buffer may start with its tail). */
  private lastEndedInWord = false;
  private windowStart = 0;
  /** The buffer's trailing partial word already outlived one flush. */
  private carried = false;
  private firstSent = false;
  private closed = false;
  private inFlight = false;
  private upstreamDone = false;
  private upstreamError: { error: unknown } | null = null;
  /** Consumers waiting, in the order they called next(). */
  private readonly waiters: Waiter[] = [];
  private timer: unknown = null;
  private timerAt = Infinity;
  private armPending = false;

  constructor(
    private readonly upstream: AsyncIterator<string | readonly string[]>,
    private readonly maxWords: number,
    private readonly flushIntervalMs: number,
    private readonly timers: StreamTimers,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<StreamChunk> {
    return this;
  }

  next(): Promise<IteratorResult<StreamChunk>> {
    if (this.waiters.length === 0) {
      try {
        const result = this.take();
        if (result !== null) return Promise.resolve(result);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.pump();
    });
  }

  return(): Promise<IteratorResult<StreamChunk>> {
    if (!this.closed) {
      this.close();
      // Called right away, not after a pending next() settles, so the model call aborts now.
      void Promise.resolve(this.upstream.return?.()).catch(() => undefined);
    }
    for (const waiter of this.waiters.splice(0)) waiter.resolve(DONE);
    return Promise.resolve(DONE);
  }

  /** The next result without waiting, or null when it must wait for the source or the clock. */
  private take(): IteratorResult<StreamChunk> | null {
    for (;;) {
      if (this.closed) return DONE;
      const chunk = this.ready.shift();
      if (chunk !== undefined) return { value: chunk, done: false };
      if (this.upstreamError !== null) {
        this.close();
        throw this.upstreamError.error;
      }
      if (this.upstreamDone) {
        if (this.buffer === '') {
          this.close();
          return DONE;
        }
        this.emit(this.buffer.length);
        continue;
      }
      if (this.starts.length > 0 && this.timers.now() >= this.windowStart + this.flushIntervalMs) {
        // Either emits, or gives a growing word one more window: the loop cannot spin.
        this.flush(this.carried);
        continue;
      }
      return null;
    }
  }

  /** Serves the waiting consumers what can be served now; asks for more for the rest. */
  private serve(): void {
    while (this.waiters.length > 0) {
      let result: IteratorResult<StreamChunk> | null;
      try {
        result = this.take();
      } catch (error) {
        this.waiters.shift()!.reject(error);
        continue;
      }
      if (result === null) return this.pump();
      this.waiters.shift()!.resolve(result);
    }
  }

  /** A consumer waits: make sure the source is being read and the flush window is timed. */
  private pump(): void {
    if (!this.inFlight && !this.upstreamDone && this.upstreamError === null && !this.closed) {
      this.inFlight = true;
      this.upstream.next().then(this.onUpstream, this.onUpstreamError);
    }
    if (this.starts.length > 0) this.armAtTurnEnd();
  }

  /**
   * Arms the flush window's timer once the microtasks of the current turn have run (a tick, not a
   * clock: the deadline is the same). A read that completes within the turn, as from a model whose
   * answer is already buffered, then needs no timer: arming and clearing one was ~1.3% of a chat's
   * CPU at concurrency 1 (the gateway bench's zero-latency models).
   */
  private armAtTurnEnd(): void {
    if (this.armPending || (this.timer !== null && this.timerAt <= this.windowStart + this.flushIntervalMs)) return;
    this.armPending = true;
    process.nextTick(this.armDeferred);
  }

  private readonly armDeferred = (): void => {
    this.armPending = false;
    // Served, closed or flushed meanwhile: nothing to time.
    if (this.closed || this.waiters.length === 0 || this.starts.length === 0) return;
    this.arm(this.windowStart + this.flushIntervalMs);
  };

  private readonly onUpstream = (result: IteratorResult<string | readonly string[]>): void => {
    this.inFlight = false;
    if (this.closed) return;
    if (result.done) this.upstreamDone = true;
    else if (typeof result.value === 'string') this.onToken(result.value);
    else for (const token of result.value) this.onToken(token);
    this.serve();
  };

  private readonly onUpstreamError = (error: unknown): void => {
    this.inFlight = false;
    if (this.closed) return;
    this.upstreamError = { error };
    // What is already buffered still reaches the consumer before the error does.
    if (this.buffer !== '') this.emit(this.buffer.length);
    this.serve();
  };

  private readonly onTimer = (): void => {
    this.timer = null;
    this.timerAt = Infinity;
    if (!this.closed) this.serve();
  };

  private arm(at: number): void {
    // An earlier timer re-arms itself (through serve) when it fires; only a later one is replaced.
    if (this.timer !== null && this.timerAt <= at) return;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.timers.setTimeout(this.onTimer, Math.max(0, at - this.timers.now()));
  }

  private close(): void {
    this.closed = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }

  private onToken(token: string): void {
    if (token === '') return;
    if (this.starts.length === 0) this.windowStart = this.timers.now();
    // Words are found once, in the characters appended; nothing already buffered is scanned again.
    const offset = this.buffer.length;
    this.buffer += token;
    for (let i = 0; i < token.length; i++) {
      if (isSpace(token.charCodeAt(i))) this.inWord = false;
      else if (!this.inWord) {
        this.inWord = true;
        this.starts.push(offset + i);
      }
    }
    if (!this.firstSent && this.starts.length > 0) {
      this.firstSent = true;
      this.flush(true);
    }
    this.flushFullChunks();
  }

  /** The first word is the tail of one whose beginning went out in the previous chunk. */
  private firstIsTail(): boolean {
    return this.lastEndedInWord && this.starts[0] === 0;
  }

  /** Words that whitespace already follows and that began in this buffer. */
  private countedCompleteWords(): number {
    const complete = this.starts.length - (this.inWord ? 1 : 0);
    return complete - (complete > 0 && this.firstIsTail() ? 1 : 0);
  }

  private flushFullChunks(): void {
    while (this.countedCompleteWords() >= this.maxWords) {
      // The last word of a full chunk, and the whitespace after it, go out with it.
      const last = this.maxWords - 1 + (this.firstIsTail() ? 1 : 0);
      this.emit(last + 1 < this.starts.length ? this.starts[last + 1]! : this.buffer.length);
    }
  }

  /**
   * Emits complete words; with `force`, emits everything when there is no complete word. Bare
   * whitespace shows the reader nothing, so it waits for the next word (or the end of the stream).
   */
  private flush(force: boolean): void {
    if (this.starts.length === 0) return;
    const whole = this.starts.length - (this.inWord ? 1 : 0);
    if (whole > 0) this.emit(this.inWord ? this.starts[this.starts.length - 1]! : this.buffer.length);
    else if (force) this.emit(this.buffer.length);
    else {
      // Nothing whole to send yet: give the growing word one more window, then send it regardless.
      this.carried = true;
      this.windowStart = this.timers.now();
    }
  }

  /** Emits the buffer up to `end`, which is a word's start or the buffer's end. */
  private emit(end: number): void {
    const { buffer, starts } = this;
    let inChunk = 0;
    while (inChunk < starts.length && starts[inChunk]! < end) inChunk++;
    const words = inChunk - (inChunk > 0 && this.firstIsTail() ? 1 : 0);
    const text = buffer.slice(0, end);
    this.ready.push({ text, words });
    this.lastEndedInWord = end > 0 && !isSpace(buffer.charCodeAt(end - 1));
    this.buffer = buffer.slice(end);
    this.starts = inChunk === 0 ? starts.map((s) => s - end) : starts.slice(inChunk).map((s) => s - end);
    if (this.buffer === '') this.inWord = false;
    this.windowStart = this.timers.now();
    this.carried = this.buffer.length > 0 && this.inWord;
  }
}
