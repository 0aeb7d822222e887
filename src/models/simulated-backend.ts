import type { SimulatedModelConfig } from '../config/schema.js';
import { createRng, type Rng } from '../router/random.js';
import {
  batchedEvents,
  UpstreamError,
  type CompletionEvent,
  type CompletionRequest,
  type ModelBackend,
  type ModelPricing,
} from './backend.js';
import { estimateMessageTokens } from './token-counter.js';
import { DONE, SinkReader, type ReadSink } from '../read-sink.js';
import { createDeadlineQueue, type DeadlineQueue, type QueuedDeadline } from '../streaming/deadline-queue.js';
import type { StopSignal } from '../stop-signal.js';

/**
 * A model that needs no network: it streams generated text with a configured time to first
 * token, speed and error rate. The answer to a prompt depends only on the seed and the prompt, so
 * the same question gets the same answer (which makes caching demonstrable) and runs repeat.
 */

export interface SimulatedBackend extends ModelBackend {
  /** Probability that a user likes an answer; demos and benches use it to simulate feedback. */
  readonly quality: number;
}

const VOCABULARY = (
  'the a router model answer request stream token latency cost quality bandit arm posterior sample ' +
  'reward context feedback cache signal value system user data result because therefore however ' +
  'first then finally which while when where this that these those is are was can will should ' +
  'fast slow cheap strong weak learns picks routes measures returns explains improves adapts'
).split(' ');

function hashString(text: string, seed: number): number {
  // FNV-1a: a cheap, well-spread 32-bit hash is all the prompt → answer mapping needs.
  let hash = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function generateAnswer(rng: Rng, tokens: number): string[] {
  const words: string[] = [];
  for (let i = 0; i < tokens; i++) {
    const word = VOCABULARY[Math.floor(rng() * VOCABULARY.length)]!;
    const capitalised = i === 0 || words[i - 1]!.endsWith('.') ? word[0]!.toUpperCase() + word.slice(1) : word;
    const endsSentence = i === tokens - 1 || rng() < 0.08;
    words.push((i === 0 ? '' : ' ') + capitalised + (endsSentence ? '.' : ''));
  }
  return words;
}

/** Before the answer is made: one empty array for every stream, not one each. */
const NO_TOKENS: readonly string[] = Object.freeze([]);

interface StreamSettings {
  readonly config: SimulatedModelConfig;
  readonly seed: number;
  readonly failureRng: Rng;
  /** The waits of every stream of the backend, on one timer. */
  readonly waits: DeadlineQueue;
}

/**
 * One simulated answer, as the events of a network stream would come: nothing before the time to
 * first token, then every token that is due in one batch, then usage and finish. One object per
 * stream rather than an async generator (a generator, its register file, a context, a promise
 * per await) plus a promise, two closures and an abort registration per wait: a subscription
 * waiting for its first token from a simulated model holds one of these and a slot in the
 * backend's queue of waits (one timer for every stream). The stream is its own abort listener
 * (`handleEvent`) and queue entry; aborting it, or `return()`, settles a waiting read at once and
 * takes it out of the queue. A reader that takes its read
 * straight (`readTo`, the model call's timed iterator) is answered with no promise of this stream's.
 */
class SimulatedStream extends SinkReader<CompletionEvent[]> implements AsyncIterableIterator<CompletionEvent[]>, QueuedDeadline {
  private readonly stop: StopSignal;
  /** The failure is drawn at the first read, and the answer made once the time to first token passed. */
  private phase: 'new' | 'first-token' | 'streaming' = 'new';
  private tokens: readonly string[] = NO_TOKENS;
  private failing = false;
  private sent = 0;
  private started = 0;
  private msPerToken = 0;
  private finished = false;
  /** Its slot in the backend's waits (QueuedDeadline). */
  deadlineSlot = -1;

  constructor(
    private readonly settings: StreamSettings,
    private readonly request: CompletionRequest,
  ) {
    super();
    this.stop = request.stop ?? request.signal;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Answers at once what is due, else when the timer fires (or the stop aborts). */
  readTo(sink: ReadSink<CompletionEvent[]>): void {
    if (this.sink !== null) return sink.onReadError(new Error('a simulated stream takes one read at a time'));
    if (this.finished) return sink.onRead(DONE);
    let result: IteratorResult<CompletionEvent[]> | null;
    try {
      if (this.stop.aborted) throw this.stop.reason;
      if (this.phase === 'new') {
        this.failing = this.settings.failureRng() < this.settings.config.errorRate;
        this.phase = 'first-token';
        if (this.settings.config.ttftMs > 0) return this.wait(sink, this.settings.config.ttftMs);
        result = this.begin();
      } else {
        result = this.step();
        if (result === null) return this.wait(sink, this.started + this.sent * this.msPerToken - performance.now());
      }
    } catch (error) {
      this.end();
      return sink.onReadError(error);
    }
    sink.onRead(result);
  }

  return(): Promise<IteratorResult<CompletionEvent[]>> {
    this.end();
    this.settleRead(DONE);
    return Promise.resolve(DONE);
  }

  /** The stop aborted: a waiting read rejects at once with its reason. */
  handleEvent(): void {
    if (this.finished) return;
    this.end();
    this.failRead(this.stop.reason);
  }

  /** The wait is over (QueuedDeadline): the time to first token, or the next token, is due. */
  onDeadline(): void {
    if (this.finished) return;
    try {
      if (this.stop.aborted) throw this.stop.reason;
      const result = this.phase === 'first-token' ? this.begin() : this.step();
      if (result === null) this.arm(this.started + this.sent * this.msPerToken - performance.now());
      else {
        this.stop.removeEventListener('abort', this);
        this.settleRead(result);
      }
    } catch (error) {
      this.end();
      this.failRead(error);
    }
  }

  /** After the time to first token: fails, or makes the answer and reads its first batch. */
  private begin(): IteratorResult<CompletionEvent[]> {
    const { config, seed } = this.settings;
    if (this.failing) {
      throw new UpstreamError('UPSTREAM_HTTP_ERROR', `simulated model ${config.id} failed (503)`, {
        retryable: true,
        status: 503,
      });
    }
    const prompt = this.request.messages.map((m) => `${m.role}:${m.content}`).join('\n');
    const answerRng = createRng(hashString(prompt, seed));
    this.tokens = generateAnswer(answerRng, Math.min(config.answerTokens, this.request.maxTokens));
    this.phase = 'streaming';
    this.msPerToken = config.tokensPerSecond > 0 ? 1000 / config.tokensPerSecond : 0;
    this.started = performance.now();
    // A first read whose first token is not due yet (an answer of none, say) waits like any other.
    return this.step() ?? { done: false, value: this.lastBatch([]) };
  }

  /**
   * Every token that is due goes out in one batch, as the tokens of one network read would; null
   * when none is due yet. Scheduled against the start time so that timer slack does not add up
   * into a slower stream.
   */
  private step(): IteratorResult<CompletionEvent[]> | null {
    const { tokens } = this;
    if (this.sent >= tokens.length) return null;
    const { msPerToken } = this;
    const due = msPerToken === 0 ? tokens.length : Math.min(tokens.length, 1 + Math.floor((performance.now() - this.started) / msPerToken));
    if (due <= this.sent) return null;
    const batch: CompletionEvent[] = [];
    for (; this.sent < due; this.sent++) batch.push({ type: 'token', text: tokens[this.sent]! });
    return { done: false, value: this.sent < tokens.length ? batch : this.lastBatch(batch) };
  }

  /** The simulated model is its own tokenizer: its prompt tokens are the estimate, counted in linear time. */
  private lastBatch(batch: CompletionEvent[]): CompletionEvent[] {
    const { config } = this.settings;
    const { tokens } = this;
    this.finished = true;
    batch.push(
      { type: 'usage', promptTokens: estimateMessageTokens(this.request.messages), completionTokens: tokens.length, estimated: false },
      { type: 'finish', reason: tokens.length < config.answerTokens ? 'length' : 'stop' },
    );
    return batch;
  }

  private wait(sink: ReadSink<CompletionEvent[]>, ms: number): void {
    this.sink = sink;
    this.stop.addEventListener('abort', this, { once: true });
    this.arm(ms);
  }

  private arm(ms: number): void {
    this.settings.waits.schedule(this, performance.now() + Math.max(0, ms));
  }

  private end(): void {
    this.finished = true;
    this.settings.waits.cancel(this);
    this.stop.removeEventListener('abort', this);
  }

}

export function createSimulatedBackend(config: SimulatedModelConfig): SimulatedBackend {
  const seed = config.seed ?? hashString(config.id, 0);
  // Failures draw from their own stream so that they do not change which answer a prompt gets.
  const failureRng = createRng(seed);
  const pricing: ModelPricing = { inputPer1k: config.inputPer1k, outputPer1k: config.outputPer1k };

  // Referenced: a simulated model's wait keeps the process alive, as a socket would.
  const settings: StreamSettings = { config, seed, failureRng, waits: createDeadlineQueue() };

  return {
    id: config.id,
    provider: 'simulated',
    pricing,
    quality: config.quality,
    stream: (request) => batchedEvents(() => new SimulatedStream(settings, request)),
  };
}
