import { randomUUID } from 'node:crypto';
import { issueFeedbackToken } from '../auth/request-access.js';
import { CodedError } from '../coded-error.js';
import type { SwitchyardConfig } from '../config/schema.js';
import type { FeedbackDisagreement } from '../analyzer/feedback-disagreement.js';
import { verdictWeight, type ClientInfluence } from '../learning/client-influence.js';
import type { Learning } from '../learning/learning.js';
import type { Logger } from '../logger.js';
import type { CacheManager, CachedAnswer } from '../cache/cache-manager.js';
import type { SingleFlight } from '../cache/single-flight.js';
import type { ModelManager } from '../models/model-manager.js';
import { RouterError, type AdaptiveRouter, type ArmView, type RouteDecision } from '../router/adaptive-router.js';
import { chunkCompleteText, chunkWordsForConfidence } from '../streaming/word-chunks.js';
import { chunkLiveTokens } from '../streaming/live-chunker.js';
import { pacingDelayMs } from '../streaming/pacing.js';
import { abortableStream } from './abortable-stream.js';
import { DONE, isSinkReadable, type ReadSink } from '../read-sink.js';
import type { StopSignal } from '../stop-signal.js';
import { createAnswerProducer, type AnswerEvent } from './answer-producer.js';
import { createAfterDispatch, type DeferredWork } from './after-dispatch.js';
import { finishedRequestLog } from './request-log.js';
import type { ChatEvent, ChatMetrics, ChatRequest } from './chat-events.js';
import { RequestStoreUnavailableError, type RequestRecord, type RequestStore } from './request-store.js';
import type { ShadowRouter } from '../router/shadow-router.js';
import type { ObjectiveTally } from '../analyzer/objective-figures.js';
import { MAX_CONTEXT_SEGMENTS, MAX_TAG_CHARS } from '../router/context-path.js';
import { objectiveProblem } from '../router/objectives.js';

/**
 * The chat service: validate → cache → route → stream → learn. One upstream answer is produced
 * per cache miss (shared by identical concurrent requests), and every client gets its own view of
 * it as route, chunk and done/error events.
 */

export type ChatInputErrorCode =
  | 'EMPTY_MESSAGES'
  | 'TOO_MANY_MESSAGES'
  | 'EMPTY_CONTENT'
  | 'PROMPT_TOO_LARGE'
  | 'MAX_TOKENS_OUT_OF_RANGE'
  | 'TEMPERATURE_OUT_OF_RANGE'
  | 'INVALID_TAG'
  | 'INVALID_OBJECTIVE'
  | 'UNKNOWN_ARM'
  | 'ARM_DISABLED'
  | 'NO_ARM_AVAILABLE';

export class ChatInputError extends CodedError<ChatInputErrorCode> {
  override readonly name = 'ChatInputError';
}

export type FeedbackErrorCode = 'REQUEST_NOT_FOUND' | 'REQUEST_NOT_COMPLETED' | 'INVALID_FEEDBACK' | 'REQUEST_UNAVAILABLE';

export class FeedbackError extends CodedError<FeedbackErrorCode> {
  override readonly name = 'FeedbackError';
}

export interface FeedbackInput {
  readonly requestId: string;
  readonly score?: number | null | undefined;
  readonly thumbs?: 'UP' | 'DOWN' | null | undefined;
  readonly rating?: number | null | undefined;
  readonly comment?: string | null | undefined;
}

export interface FeedbackResult {
  readonly requestId: string;
  readonly score: number;
  /** False when the answer came from the cache or another request's call: the bandit is not taught. */
  readonly learned: boolean;
  /** True when a negative score removed the answer from the cache. */
  readonly evicted: boolean;
  /** The context the request was routed in, where the feedback was counted. */
  readonly context: string;
  /** The arm's statistics in that context after the update. */
  readonly arm: ArmView;
}

export interface ChatService {
  /** Validates at once (throws ChatInputError), then streams; `return()` aborts the model call. */
  chat(request: ChatRequest): AsyncGenerator<ChatEvent, void, undefined>;
  /**
   * `chat` for a caller that aborts `signal` itself when it stops reading, before it calls
   * `return()` (the chat gate, whose one object per chat does it): aborting is what stops the model
   * call at once, since a generator suspended on an `await` does not see `return()` until that
   * await settles.
   */
  stream(request: ChatRequest, signal: StopSignal): AsyncGenerator<ChatEvent, void, undefined>;
  submitFeedback(input: FeedbackInput): Promise<FeedbackResult>;
  /** A request served by this instance or, with shared learning, by any; throws FeedbackError REQUEST_UNAVAILABLE when that cannot be asked. */
  getRequest(id: string): Promise<Readonly<RequestRecord> | undefined>;
  /** A request served by this instance. */
  localRequest(id: string): Readonly<RequestRecord> | undefined;
  /** The session's most recent requests, newest first. */
  recentRequests(session: string, limit: number): Promise<Readonly<RequestRecord>[]>;
}

export interface ChatServiceDeps {
  readonly config: Pick<SwitchyardConfig, 'arms' | 'limits' | 'router' | 'streaming'>;
  readonly router: AdaptiveRouter;
  readonly models: ModelManager;
  readonly requests: RequestStore;
  readonly cache: CacheManager;
  readonly singleFlight: SingleFlight<AnswerEvent>;
  /** Where what requests measured and what users said goes. */
  readonly learning: Pick<Learning, 'observe'>;
  /** The weight of a client's feedback: bounded share per context, pinned requests excluded. */
  readonly influence: ClientInfluence;
  /** Watches for clients whose feedback disagrees with everyone else's (the analyzer's view). */
  readonly disagreement?: Pick<FeedbackDisagreement, 'observe'>;
  /** Sends a share of fresh routed requests to a second arm in the background. */
  readonly shadow?: ShadowRouter;
  /** Spend and quality per request objective (the analyzer's objectives report). */
  readonly objectives?: ObjectiveTally;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly newId?: () => string;
}

const NO_TOKENS: readonly string[] = [];

const ignore = (): undefined => undefined;

type Terminal = Extract<AnswerEvent, { type: 'end' | 'failure' }>;

/**
 * The answer's token batches, read by the live chunker straight from the answer: a mapping, not
 * another generator between the model and the chunker. It notes how the answer ended.
 */
class AnswerTokens implements AsyncIterableIterator<readonly string[]> {
  terminal: Terminal | null = null;

  constructor(private readonly answer: AsyncIterator<AnswerEvent>) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<readonly string[]>> {
    return this.answer.next().then(this.toTokens);
  }

  async return(): Promise<IteratorResult<readonly string[]>> {
    await this.answer.return?.();
    return DONE;
  }

  private readonly toTokens = (next: IteratorResult<AnswerEvent>): IteratorResult<readonly string[]> => {
    if (next.done) return DONE;
    const event = next.value;
    if (event.type === 'tokens') return { done: false, value: event.texts };
    if (event.type === 'end' || event.type === 'failure') {
      this.terminal = event;
      return DONE;
    }
    return { done: false, value: NO_TOKENS };
  };
}

/** Comments are kept with the request for the feedback window: bounded, so memory is too. */
const MAX_COMMENT_CHARS = 2_000;

/** The fraction of a user's feedback below which an answer is not served from the cache again. */
const NEGATIVE_FEEDBACK_BELOW = 0.5;

export function normalizeFeedbackScore(input: FeedbackInput): number {
  const given = [input.score, input.thumbs, input.rating].filter((v) => v !== undefined && v !== null);
  if (given.length !== 1) {
    throw new FeedbackError('INVALID_FEEDBACK', 'give exactly one of score, thumbs or rating');
  }
  if (input.comment && input.comment.length > MAX_COMMENT_CHARS) {
    throw new FeedbackError('INVALID_FEEDBACK', `comments are limited to ${MAX_COMMENT_CHARS} characters`);
  }
  if (input.score !== undefined && input.score !== null) {
    if (!(input.score >= 0 && input.score <= 1)) {
      throw new FeedbackError('INVALID_FEEDBACK', 'score must be between 0 and 1');
    }
    return input.score;
  }
  if (input.thumbs !== undefined && input.thumbs !== null) return input.thumbs === 'UP' ? 1 : 0;
  const rating = input.rating!;
  if (!Number.isInteger(rating) || rating < 1 || rating > 5) {
    throw new FeedbackError('INVALID_FEEDBACK', 'rating must be an integer from 1 to 5');
  }
  return (rating - 1) / 4;
}

export function createChatService(deps: ChatServiceDeps): ChatService {
  const { router, models, requests, cache, singleFlight, learning, influence, config } = deps;
  const now = deps.now ?? (() => performance.now());
  const newId = deps.newId ?? randomUUID;
  const logger = deps.logger.child({ component: 'chat' });
  const armsById = new Map(config.arms.map((arm) => [arm.id, arm]));
  const chunkBounds = { minWords: config.streaming.minWords, maxWords: config.streaming.maxWords };
  const afterDispatch = createAfterDispatch(logger);
  const produceAnswer = createAnswerProducer({ config, router, models, cache, learning, shadow: deps.shadow, logger, now, afterDispatch });

  async function findRequest(id: string): Promise<Readonly<RequestRecord> | undefined> {
    try {
      return await requests.find(id);
    } catch (error) {
      if (!(error instanceof RequestStoreUnavailableError)) throw error;
      throw new FeedbackError(
        'REQUEST_UNAVAILABLE',
        `request "${id}" was not served by this instance, and the shared request store cannot be reached: retry later`,
      );
    }
  }

  function validate(request: ChatRequest): void {
    const { limits } = config;
    if (request.messages.length === 0) throw new ChatInputError('EMPTY_MESSAGES', 'messages must not be empty');
    if (request.messages.length > limits.maxMessages) {
      throw new ChatInputError('TOO_MANY_MESSAGES', `at most ${limits.maxMessages} messages are accepted`);
    }
    if (request.messages.every((m) => m.content.trim() === '')) {
      throw new ChatInputError('EMPTY_CONTENT', 'at least one message must have content');
    }
    const chars = request.messages.reduce((sum, m) => sum + m.content.length, 0);
    if (chars > limits.maxPromptChars) {
      throw new ChatInputError(
        'PROMPT_TOO_LARGE',
        `the prompt has ${chars} characters; the limit is ${limits.maxPromptChars}`,
      );
    }
    if (request.maxTokens !== undefined && (request.maxTokens < 1 || request.maxTokens > limits.maxTokens)) {
      throw new ChatInputError('MAX_TOKENS_OUT_OF_RANGE', `maxTokens must be between 1 and ${limits.maxTokens}`);
    }
    if (request.temperature !== undefined && !(request.temperature >= 0 && request.temperature <= 2)) {
      throw new ChatInputError('TEMPERATURE_OUT_OF_RANGE', 'temperature must be between 0 and 2');
    }
    const tags = request.tags;
    if (tags && (tags.length > MAX_CONTEXT_SEGMENTS || tags.some((tag) => tag.trim() === '' || tag.length > MAX_TAG_CHARS))) {
      throw new ChatInputError(
        'INVALID_TAG',
        `at most ${MAX_CONTEXT_SEGMENTS} tags, each non-empty and at most ${MAX_TAG_CHARS} characters`,
      );
    }
  }

  function validateObjective(request: ChatRequest): void {
    const problem = request.objective ? objectiveProblem(request.objective) : null;
    if (problem) throw new ChatInputError('INVALID_OBJECTIVE', problem);
  }

  function routeOrThrow(request: ChatRequest): RouteDecision {
    try {
      return router.route({
        messages: request.messages,
        tags: request.tags,
        pinnedArmId: request.armId,
        objective: request.objective,
        explain: request.explain,
      });
    } catch (error) {
      if (error instanceof RouterError) throw new ChatInputError(error.code, error.message);
      throw error;
    }
  }

  const routeEvent = (
    record: RequestRecord,
    feedbackToken: string,
    decision: RouteDecision,
    served: { cached: boolean; attempts: number },
  ): ChatEvent => ({
    type: 'route',
    requestId: record.id,
    feedbackToken,
    armId: decision.armId,
    modelId: decision.modelId,
    context: decision.context,
    confidence: decision.confidence,
    explanation: decision.explanation ?? null,
    ...served,
  });

  async function* streamCached(
    record: RequestRecord,
    feedbackToken: string,
    request: ChatRequest,
    answer: CachedAnswer,
    signal: StopSignal,
  ): AsyncGenerator<ChatEvent> {
    const started = now();
    const decision = router.describe(answer.armId, {
      messages: request.messages,
      tags: request.tags,
      pinnedArmId: request.armId,
      explain: request.explain,
    });
    record.decision = decision;
    yield routeEvent(record, feedbackToken, decision, { cached: true, attempts: 0 });
    const wordsPerChunk = chunkWordsForConfidence(decision.confidence, chunkBounds);
    const generationMs = Math.max(1, answer.latencyMs - answer.ttftMs);
    const tokensPerSecond = answer.completionTokens > 0 ? (answer.completionTokens * 1000) / generationMs : null;
    const delayMs = pacingDelayMs(tokensPerSecond, wordsPerChunk, config.streaming.pacing);
    let index = 0;
    let ttftMs: number | null = null;
    for await (const chunk of chunkCompleteText(answer.text, { wordsPerChunk, delayMs, signal })) {
      ttftMs ??= now() - started;
      yield { type: 'chunk', requestId: record.id, index: index++, text: chunk.text, words: chunk.words };
    }
    const metrics: ChatMetrics = {
      latencyMs: now() - started,
      ttftMs,
      promptTokens: answer.promptTokens,
      completionTokens: answer.completionTokens,
      tokensEstimated: false,
      costUsd: 0,
      reward: null,
    };
    void learning.observe({
      type: 'outcome',
      kind: 'cached',
      requestId: record.id,
      armId: answer.armId,
      modelId: answer.modelId,
      context: decision.context,
      latencyMs: metrics.latencyMs,
      ttftMs,
      promptTokens: answer.promptTokens,
      completionTokens: answer.completionTokens,
      costUsd: 0,
      error: false,
    });
    Object.assign(record, { status: 'completed', finishReason: answer.finishReason, metrics });
    // Shared before the client sees the end, so that feedback sent anywhere next finds it.
    await requests.save(record);
    yield {
      type: 'done',
      requestId: record.id,
      feedbackToken,
      finishReason: answer.finishReason,
      attempts: 0,
      chunks: index,
      metrics,
    };
  }

  function stream(request: ChatRequest, signal: StopSignal): AsyncGenerator<ChatEvent, void, undefined> {
    validate(request);
    validateObjective(request);
    // A pinned arm is checked before the stream starts, so that an unknown or disabled one is a
    // GraphQL error; other requests are routed only on a cache miss.
    const pinned = request.armId === undefined ? null : routeOrThrow(request);
    const record: RequestRecord = {
      id: newId(),
      createdAt: Date.now(),
      owner: request.owner ?? null,
      client: request.client ?? null,
      // Issued with the route (ChatStream.feedbackToken): no token can be shown before it.
      tokenDigest: '',
      status: 'streaming',
      decision: null,
      objective: request.objective ?? null,
      shared: false,
      cached: false,
      cacheKey: null,
      attempts: 0,
      finishReason: null,
      errorCode: null,
      metrics: null,
      feedback: null,
      session: request.session ?? null,
    };
    const cacheKey =
      request.cache === false
        ? null
        : cache.keyFor({
            messages: request.messages,
            // A pinned arm's own temperature counts; a routed request's arm is not known yet,
            // so the producer checks the serving arm's before storing.
            temperature: request.temperature ?? armsById.get(request.armId ?? '')?.temperature,
            maxTokens: request.maxTokens,
            arm: request.armId,
            tags: request.tags,
          });
    record.cacheKey = cacheKey;

    const chat = new ChatStream(request, record, cacheKey, pinned, signal);
    chat.open();
    // Stored once the upstream request is written (it is dispatched in `open`), or before the
    // chat's first event if that is sooner: nothing can ask for the record before an event names it.
    afterDispatch(chat);
    return chat;
  }

  /**
   * One chat's stream: the cache lookup and the wait for the answer's route as states of one
   * object, then (once the route is out) the chunks and the end as a generator. Not an async
   * generator from the start: a chat waiting for its first token would hold the generator, its
   * register file, its function and context, and a promise and reaction per await (memory per
   * waiting subscription). A reader that can take its read straight (`readTo`, the chat gate's
   * tracked chat) is answered by the answer's first event with no promise of this object's.
   *
   * Opened when it is made, not at its first read: the upstream request goes out before the
   * transport's layers (graphql-ws, envelop, the subscription's mapping) have set up the read that
   * waits for it, which they do while the model thinks. The answer's first event, or a failure
   * before it, that comes before that read is kept for it.
   */
  class ChatStream implements AsyncGenerator<ChatEvent, void, undefined>, ReadSink<AnswerEvent>, DeferredWork {
    /** 'opening' while the cache is looked up or the answer's route awaited; 'open' once `rest` streams. */
    private phase: 'new' | 'opening' | 'open' | 'closed' = 'new';
    /** The record is in the request store (see `stream`). */
    private stored = false;
    /** What came before the first read (the route, or how the chat failed before it); handed to that read. */
    private early: { readonly result: IteratorResult<ChatEvent, void> } | { readonly error: unknown } | null = null;
    private rest: AsyncGenerator<ChatEvent, void, undefined> | null = null;
    private answer: AsyncIterator<AnswerEvent> | null = null;
    /** Whether this chat's call produces the answer (false: it watches another request's). */
    private leader = false;
    /** Whose read is in flight. */
    private reader: ReadSink<ChatEvent> | null = null;
    private isFinished = false;
    /** The request's feedback token, issued when the route goes out (the first thing that shows it). */
    private token: string | null = null;
    /** `rest`'s reads handed to the reader; made once the route is out. */
    private forward: { readonly read: (result: IteratorResult<ChatEvent, void>) => void; readonly fail: (error: unknown) => void } | null =
      null;

    constructor(
      private readonly request: ChatRequest,
      private readonly record: RequestRecord,
      private readonly cacheKey: string | null,
      private readonly pinned: RouteDecision | null,
      private readonly signal: StopSignal,
    ) {}

    [Symbol.asyncIterator](): this {
      return this;
    }

    next(): Promise<IteratorResult<ChatEvent, void>> {
      if (this.rest !== null && this.early === null) return this.rest.next();
      return new Promise((onRead, onReadError) => this.readTo({ onRead, onReadError }));
    }

    /** Looks the answer up in the cache, or starts it: once, as the stream is made. */
    open(): void {
      if (this.phase !== 'new') return;
      this.phase = 'opening';
      const { cacheKey } = this;
      try {
        if (cacheKey === null) return this.startAnswer();
        cache.get(cacheKey).then(
          (hit) => this.lookedUp(cacheKey, hit),
          (error: unknown) => this.failed(error),
        );
      } catch (error) {
        this.failed(error);
      }
    }

    /** One read at a time (SinkReadable). */
    readTo(sink: ReadSink<ChatEvent>): void {
      if (this.reader !== null) return sink.onReadError(new Error('a chat stream takes one read at a time'));
      const { early } = this;
      if (early !== null) {
        this.early = null;
        return 'result' in early ? sink.onRead(early.result) : sink.onReadError(early.error);
      }
      if (this.phase === 'closed') return sink.onRead(DONE);
      this.reader = sink;
      if (this.rest !== null) {
        const forward = (this.forward ??= {
          read: (result) => {
            this.runDeferred();
            this.takeReader().onRead(result);
          },
          fail: (error) => {
            this.runDeferred();
            this.takeReader().onReadError(error);
          },
        });
        this.rest.next().then(forward.read, forward.fail);
        return;
      }
      // Not opened yet (made outside `stream`): opened for this read.
      this.open();
    }

    /** Stores the record (DeferredWork): before the first event, at the latest. */
    runDeferred(): void {
      if (this.stored) return;
      this.stored = true;
      requests.add(this.record);
    }

    /** The reader gets `result`, or, when none reads yet, its first read will. */
    private hand(result: IteratorResult<ChatEvent, void>): void {
      this.runDeferred();
      if (this.reader !== null) this.takeReader().onRead(result);
      else this.early = { result };
    }

    /** The answer's first event, its route (ReadSink). */
    onRead(first: IteratorResult<AnswerEvent>): void {
      if (this.phase !== 'opening') return;
      const { record } = this;
      try {
        record.shared = !this.leader;
        if (first.done) throw new Error('the answer ended without a route');
        if (first.value.type !== 'route') throw new Error(`the answer began with ${first.value.type}, not a route`);
        const { decision: served, attempts } = first.value;
        record.decision = served;
        record.attempts = attempts;
        this.begin(this.live(this.answer!, served));
        this.hand({ done: false, value: routeEvent(record, this.feedbackToken(), served, { cached: false, attempts }) });
      } catch (error) {
        this.failed(error);
      }
    }

    onReadError(error: unknown): void {
      if (this.phase === 'opening') this.failed(error);
    }

    return(): Promise<IteratorResult<ChatEvent, void>> {
      const { rest, phase } = this;
      this.early = null;
      if (rest !== null) {
        // A rest not started yet ends without running its body: what it would have done on the way out is done here.
        return rest.return(undefined).then((result) => {
          this.leftAfterRoute();
          return result;
        });
      }
      this.phase = 'closed';
      if (phase === 'opening') {
        // The caller aborted its signal first (see ChatService.stream), which ends the answer's
        // read at once; the reader is answered now.
        this.answer?.return?.().catch(ignore);
        this.finish();
        this.reader?.onRead(DONE);
        this.reader = null;
      }
      return Promise.resolve(DONE);
    }

    throw(error: unknown): Promise<IteratorResult<ChatEvent, void>> {
      if (this.rest !== null) return this.rest.throw(error);
      void this.return();
      return Promise.reject(error);
    }

    /**
     * Made when the route goes out rather than with the chat: nothing reads it before (a chat
     * waiting for its first token holds neither the token nor its digest).
     */
    private feedbackToken(): string {
      if (this.token === null) {
        const { token, digest } = issueFeedbackToken();
        this.token = token;
        this.record.tokenDigest = digest;
      }
      return this.token;
    }

    private takeReader(): ReadSink<ChatEvent> {
      const reader = this.reader!;
      this.reader = null;
      return reader;
    }

    private begin(rest: AsyncGenerator<ChatEvent, void, undefined>): void {
      this.rest = rest;
      this.phase = 'open';
    }

    private lookedUp(cacheKey: string, hit: { answer: CachedAnswer } | undefined): void {
      if (this.phase !== 'opening') return;
      const { record } = this;
      try {
        // An answer from an arm this deployment no longer has (a shared Redis across a config
        // change) is a miss, and is not kept.
        if (hit && !armsById.has(hit.answer.armId)) void cache.evict(cacheKey);
        else if (hit) {
          record.cached = true;
          record.shared = true;
          this.begin(this.cached(hit.answer));
          if (this.reader !== null) this.readTo(this.takeReader());
          return;
        }
        this.startAnswer();
      } catch (error) {
        this.failed(error);
      }
    }

    private startAnswer(): void {
      const { request, record, cacheKey, signal } = this;
      const decision = this.pinned ?? routeOrThrow(request);
      // The first client of a key produces the answer; the others only watch it being made.
      const answer =
        cacheKey === null
          ? produceAnswer(record.id, request, decision, null, signal)
          : singleFlight.run(
              cacheKey,
              (producerSignal) => {
                this.leader = true;
                return produceAnswer(record.id, request, decision, cacheKey, producerSignal);
              },
              signal,
            );
      this.leader ||= cacheKey === null;
      const iterator = answer[Symbol.asyncIterator]();
      this.answer = iterator;
      if (isSinkReadable<AnswerEvent>(iterator)) iterator.readTo(this);
      else
        iterator.next().then(
          (first) => this.onRead(first),
          (error: unknown) => this.onReadError(error),
        );
    }

    /** A failure before the route: the reader gets it (or, when the caller left, the end), or its first read will. */
    private failed(error: unknown): void {
      if (this.phase !== 'opening') return;
      this.phase = 'closed';
      let quiet = true;
      try {
        this.failure(error);
      } catch (thrown) {
        quiet = false;
        error = thrown;
      }
      this.finish();
      this.runDeferred();
      if (quiet) return this.hand(DONE);
      if (this.reader !== null) this.takeReader().onReadError(error);
      else this.early = { error };
    }

    /**
     * Nothing when the caller left (the stream ends quietly); else the record says how the chat
     * failed, and the error is thrown on.
     */
    private failure(error: unknown): void {
      const { record } = this;
      if (this.signal.aborted) return;
      if (error instanceof ChatInputError) {
        Object.assign(record, { status: 'failed', errorCode: error.code });
        throw error;
      }
      record.status = 'failed';
      record.errorCode = 'INTERNAL_ERROR';
      logger.error({ err: error, requestId: record.id }, 'chat stream failed');
      throw error;
    }

    /** The reader left once the route was out: the answer is stopped, unless the rest did that on its way out. */
    private leftAfterRoute(): void {
      if (this.isFinished) return;
      if (!this.record.cached && this.record.status === 'streaming') this.record.status = 'cancelled';
      this.answer?.return?.().catch(ignore);
      this.finish();
    }

    private finish(): void {
      if (this.isFinished) return;
      this.isFinished = true;
      const { record } = this;
      deps.objectives?.finished({
        objective: record.objective,
        armId: record.decision?.armId ?? null,
        costUsd: record.metrics?.costUsd ?? 0,
        error: record.status === 'failed',
        cached: record.cached,
      });
      logger.info(finishedRequestLog(record), 'request finished');
      // Nothing here writes to the record any more (a record not stored yet is kept compact as it is added).
      requests.settle(record.id);
    }

    private async *cached(answer: CachedAnswer): AsyncGenerator<ChatEvent, void, undefined> {
      try {
        yield* streamCached(this.record, this.feedbackToken(), this.request, answer, this.signal);
      } catch (error) {
        this.failure(error);
      } finally {
        this.finish();
      }
    }

    /** The chunks and the end of a live answer whose route is out. */
    private async *live(iterator: AsyncIterator<AnswerEvent>, served: RouteDecision): AsyncGenerator<ChatEvent, void, undefined> {
      const { record } = this;
      const token = this.feedbackToken();
      try {
        const tokens = new AnswerTokens(iterator);
        const maxWords = chunkWordsForConfidence(served.confidence, chunkBounds);
        let index = 0;
        try {
          for await (const chunk of chunkLiveTokens(tokens, { maxWords, flushIntervalMs: config.streaming.flushIntervalMs })) {
            yield { type: 'chunk', requestId: record.id, index: index++, text: chunk.text, words: chunk.words };
          }
        } finally {
          if (tokens.terminal === null) {
            record.status = 'cancelled';
            await iterator.return?.();
          }
        }

        const end = tokens.terminal as Terminal | null;
        if (end === null) throw new Error('the answer ended without a result');
        record.attempts = end.attempts;
        if (end.type === 'end') {
          Object.assign(record, {
            status: 'completed',
            finishReason: end.finishReason,
            metrics: record.shared ? { ...end.metrics, reward: null } : end.metrics,
          });
          // Shared before the client sees the end, so that feedback sent anywhere next finds it.
          await requests.save(record);
          yield {
            type: 'done',
            requestId: record.id,
            feedbackToken: token,
            finishReason: end.finishReason,
            attempts: end.attempts,
            chunks: index,
            metrics: record.metrics!,
          };
        } else {
          Object.assign(record, { status: 'failed', errorCode: end.code });
          await requests.save(record);
          yield {
            type: 'error',
            requestId: record.id,
            code: end.code,
            message: end.message,
            partial: end.partial,
            attempts: end.attempts,
          };
        }
      } catch (error) {
        this.failure(error);
      } finally {
        this.finish();
      }
    }
  }

  return {
    chat: (request) => abortableStream((signal) => stream(request, signal)),
    stream,

    async submitFeedback(input) {
      const score = normalizeFeedbackScore(input);
      const found = await findRequest(input.requestId);
      // Read again once nothing more is awaited before the score is set: a compact record is read
      // as a new object each time, and a score given here by a concurrent call since `found` was
      // read is this one's previous score (one served elsewhere is as it was found).
      const record = (found && requests.get(found.id)) ?? found;
      if (!record) {
        throw new FeedbackError('REQUEST_NOT_FOUND', `request "${input.requestId}" is unknown or has expired`);
      }
      if (record.status !== 'completed' || record.decision === null) {
        throw new FeedbackError(
          'REQUEST_NOT_COMPLETED',
          `request "${input.requestId}" is ${record.status}; feedback is taken for completed requests`,
        );
      }
      const previous = record.feedback?.score ?? null;
      const decision = record.decision;
      // A replacement teaches at the weight of the judgement it replaces (and takes no more share).
      const weight = verdictWeight(
        influence,
        { client: record.client ?? null, shared: record.shared, context: decision.context, pinned: decision.pinned },
        record.feedback?.weight,
      );
      // Set before anything is awaited: a second score arriving meanwhile replaces this one.
      requests.update(record.id, { feedback: { score, weight, comment: input.comment ?? null, receivedAt: Date.now() } });
      const learned = !record.shared && weight > 0;
      await learning.observe({
        type: 'judgement',
        kind: 'feedback',
        requestId: record.id,
        client: record.owner,
        shared: record.shared,
        verdicts: [
          {
            armId: decision.armId,
            context: decision.context,
            score,
            previous,
            costUsd: record.metrics?.costUsd ?? 0,
            latencyMs: record.metrics?.latencyMs ?? 0,
            weight,
          },
        ],
        comment: input.comment ?? null,
      });
      deps.objectives?.judged(record.objective, score, previous);
      // Pinned feedback included: pinning is how one client aims its scores at one arm.
      if (!record.shared) {
        deps.disagreement?.observe({ client: record.client ?? 'unknown', armId: decision.armId, context: decision.context, score, previous });
      }
      if (learned && record.metrics) {
        requests.update(record.id, { metrics: { ...record.metrics, reward: router.rewardOf({ ...record.metrics, error: false }, score) } });
      }
      let evicted = false;
      if (score < NEGATIVE_FEEDBACK_BELOW && record.cacheKey !== null) {
        await cache.evict(record.cacheKey);
        evicted = true;
      }
      return {
        requestId: record.id,
        score,
        learned,
        evicted,
        context: decision.context,
        arm: router.arm(decision.armId, decision.context)!,
      };
    },

    getRequest: findRequest,
    localRequest: (id) => requests.get(id),
    recentRequests: (session, limit) => requests.recent(session, limit),
  };
}
