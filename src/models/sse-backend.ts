import type { Dispatcher } from 'undici';
import type { AnthropicModelConfig, OpenAIModelConfig } from '../config/schema.js';
import { modelSecrets } from '../config/secrets.js';
import { batchedEvents, UpstreamError, type CompletionEvent, type CompletionRequest } from './backend.js';
import {
  abortReason,
  createUpstreamAgent,
  headerValue,
  isRecord,
  loggableUrl,
  lowerCaseKeys,
  sharedDrainGrace,
  toUpstreamError,
  upstreamErrorFromStatus,
  upstreamTarget,
  type DrainGrace,
  type HttpBackendDeps,
  type HttpModelBackend,
} from './http-client.js';
import { createSseParser, type SseEvent, type SseParser } from './sse-parser.js';
import type { Logger } from '../logger.js';
import { DONE, SinkReader, type ReadSink } from '../read-sink.js';
import type { StopSignal } from '../stop-signal.js';
import type { QueuedDeadline } from '../streaming/deadline-queue.js';
import { countMessageTokens, countTokens, MAX_COUNTED_CHARS } from './token-counter.js';

/**
 * The skeleton of a backend that streams server-sent events over HTTP, shared by the OpenAI and
 * Anthropic backends. It owns what every such stream needs: the pooled agent, opening the request,
 * insisting on an event stream, the `usage` and `finish` events (usage counted with the tokenizer
 * when the provider reported none), returning or closing the socket, and mapping every failure to
 * an UpstreamError. A provider brings only its wire format: URL, headers, body, and the translation
 * of its events into token texts, usage figures and a finish reason.
 */

/** What a translation may read about the stream it is translating. */
export interface TranslationContext {
  /** A token has been handed to the consumer: from then on no failure is retryable. */
  readonly tokensSent: boolean;
  /** Strings that must not appear in an error message (the API key). */
  readonly secrets: readonly string[];
}

/** How a provider's stream ended, as its translation read it. */
export interface StreamOutcome {
  /**
   * The end marker came before the body ended: the rest of the body is drained so that its
   * socket goes back to the pool.
   */
  readonly endMarkerSeen: boolean;
  /** Undefined when the provider did not report it; the tokenizer counts it then. */
  readonly promptTokens: number | undefined;
  readonly completionTokens: number | undefined;
  /** In OpenAI's vocabulary: "stop", "length", … */
  readonly finishReason: string;
}

/** What a translator returns for the event that ends the stream (`[DONE]`, `message_stop`). */
export const END_OF_STREAM: unique symbol = Symbol('end of stream');

/**
 * A provider's events, translated one at a time as they are parsed: synchronous, so every token of
 * one network read reaches the consumer in one batch.
 */
export interface SseTranslator {
  /**
   * The text of the token the event carries (undefined when it carries none), or END_OF_STREAM.
   * Throws UpstreamErrors for the provider's error events and for protocol violations.
   */
  accept(event: SseEvent): string | undefined | typeof END_OF_STREAM;
  /** How the stream ended, once the end marker came or the body ended; throws when it ended early. */
  outcome(endMarkerSeen: boolean): StreamOutcome;
}

export type SseTranslation = (context: TranslationContext) => SseTranslator;

export interface SseBackendSpec {
  readonly provider: 'openai' | 'anthropic';
  readonly config: Pick<
    OpenAIModelConfig | AnthropicModelConfig,
    'id' | 'headers' | 'timeouts' | 'inputPer1k' | 'outputPer1k'
  >;
  readonly deps: HttpBackendDeps;
  readonly url: string;
  /** The provider's own headers (auth, version); they override the configured extra headers. */
  readonly providerHeaders: Readonly<Record<string, string>>;
  requestBody(request: CompletionRequest): Record<string, unknown>;
  readonly translate: SseTranslation;
}

export function createSseBackend(spec: SseBackendSpec): HttpModelBackend {
  const { provider, config, deps, url } = spec;
  const ownsDispatcher = deps.dispatcher === undefined;
  const dispatcher = deps.dispatcher ?? createUpstreamAgent(config.timeouts);
  // Query parameters (Azure's api-version, a key some gateways take) are part of `url`.
  const secrets = modelSecrets({ headers: config.headers, query: Object.fromEntries(new URL(url).searchParams) }, deps.apiKey);
  const target = upstreamTarget(url);
  const upstream: SseUpstream = {
    provider,
    origin: target.origin,
    path: target.path,
    headers: {
      ...lowerCaseKeys(config.headers),
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...spec.providerHeaders,
    },
    dispatcher,
    secrets,
    now: deps.now ?? Date.now,
    logger: deps.logger.child({ component: 'model-backend', provider, model: config.id }),
    // Parsed once: the debug line's fields are built before pino knows the level is off, per request.
    loggedUrl: loggableUrl(url),
    requestBody: spec.requestBody,
    translate: spec.translate,
    drainGrace: deps.drainGrace ?? sharedDrainGrace,
  };

  return {
    id: config.id,
    provider,
    pricing: { inputPer1k: config.inputPer1k, outputPer1k: config.outputPer1k },
    stream: (request) => batchedEvents(() => new SseStream(upstream, request)),
    async close() {
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}

/** What every stream of one backend shares: where it goes, how it is sent and how its events are read. */
interface SseUpstream {
  readonly provider: string;
  readonly origin: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly dispatcher: Dispatcher;
  readonly secrets: readonly string[];
  readonly now: () => number;
  readonly logger: Logger;
  readonly loggedUrl: string;
  requestBody(request: CompletionRequest): Record<string, unknown>;
  readonly translate: SseTranslation;
  readonly drainGrace: DrainGrace;
}

/** How long a finished stream's remaining bytes may take to arrive before its socket is dropped. */
const DRAIN_GRACE_MS = 1_000;
/** Largest provider error body read; the rest is dropped (error texts are short). */
const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** Batches buffered for a consumer that is not reading before the socket is paused (TCP pushes back then). */
const PAUSE_ABOVE_BATCHES = 4;
/** Batches left when a paused socket is read again. */
const RESUME_AT_BATCHES = 1;

type Batch = CompletionEvent[];

const NO_FAILURE: unique symbol = Symbol('no failure');

/**
 * One model call over HTTP, read through undici's dispatch callbacks rather than a Readable body:
 * each network read goes through the SSE parser and the provider's translation at once, and its
 * tokens become one batch, handed straight to a waiting reader (`readTo`, no promise) or buffered.
 * No Node stream, async iterator or generator sits between the socket and the model call's timed
 * iterator: ~5% of the backend's CPU per stream, and less garbage (docs/performance.md, "Twelfth
 * pass").
 *
 * A reader that does not keep up is pushed back on: above PAUSE_ABOVE_BATCHES buffered batches the
 * socket is paused (undici stops reading it), and it is read again once the reader has taken all
 * but RESUME_AT_BATCHES. After the end marker the rest of the body is read and dropped so the
 * keep-alive socket goes back to the pool, for at most DRAIN_GRACE_MS (a server that holds the
 * response open costs that socket only); the stream ends once the body has. A reader that stops
 * early (`return()`), an abort of the call's stop and every failure close the socket at once.
 *
 * The stream is its own dispatch handler, abort listener (`handleEvent`), deadline-queue entry and
 * translation context: one object per call.
 */
class SseStream
  extends SinkReader<Batch>
  implements AsyncIterableIterator<Batch>, Dispatcher.DispatchHandler, QueuedDeadline, TranslationContext
{
  tokensSent = false;
  deadlineSlot = -1;
  private readonly stop: StopSignal;
  private controller: Dispatcher.DispatchController | null = null;
  /** Closed before undici called onRequestStart: the request is aborted there. */
  private abortOnStart: Error | null = null;
  private started = false;
  /** Nothing more is read or handed out but what is queued (failed, abandoned, or the last batch queued). */
  private closed = false;
  /** The body was read to its end (or its socket dropped after the end marker). */
  private bodyDone = false;
  /** Usage is being counted with the tokenizer: the last batch is not queued yet. */
  private counting = false;
  private readonly queue: Batch[] = [];
  private failure: unknown = NO_FAILURE;
  // Set once the response is a 2xx event stream.
  private translator: SseTranslator | null = null;
  private parser: SseParser | null = null;
  private endMarkerSeen = false;
  /** The answer kept only as far as the tokenizer would count it, plus its length: bounded memory. */
  private counted = '';
  private answerChars = 0;
  // Set for a response that is not a 2xx: its body is read for the provider's error text.
  private errorStatus = 0;
  private errorHeaders: Record<string, string | string[] | undefined> | null = null;
  private errorChunks: Buffer[] | null = null;
  private errorBytes = 0;

  constructor(
    private readonly upstream: SseUpstream,
    private readonly request: CompletionRequest,
  ) {
    super();
    // The call's own stop when the model manager gives one: its Node AbortSignal is then never made.
    this.stop = request.stop ?? request.signal;
  }

  /** Nothing is left to hand out or to wait for: no body to drain, no usage being counted. */
  private get ended(): boolean {
    return this.closed && this.bodyDone && !this.counting;
  }

  get secrets(): readonly string[] {
    return this.upstream.secrets;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  readTo(sink: ReadSink<Batch>): void {
    if (this.sink !== null) return sink.onReadError(new Error('an upstream stream takes one read at a time'));
    const batch = this.queue.shift();
    if (batch !== undefined) {
      if (this.controller?.paused === true && this.queue.length <= RESUME_AT_BATCHES) queueMicrotask(() => this.resume());
      return sink.onRead({ done: false, value: batch });
    }
    if (this.failure !== NO_FAILURE) {
      const { failure } = this;
      this.failure = NO_FAILURE;
      return sink.onReadError(failure);
    }
    if (this.ended) return sink.onRead(DONE);
    this.sink = sink;
    if (!this.started) this.start();
  }

  /** The reader stopped: an unfinished body's socket is closed at once rather than drained for nobody. */
  return(): Promise<IteratorResult<Batch>> {
    this.queue.length = 0;
    this.failure = NO_FAILURE;
    if (!this.closed) this.close(new DOMException('The consumer stopped reading the stream', 'AbortError'));
    this.settleRead(DONE);
    return Promise.resolve(DONE);
  }

  /** The call's stop aborted: the socket goes, and a waiting read rejects at once with the stop's reason. */
  handleEvent(): void {
    if (this.closed) return;
    // At once: what is buffered is not handed out first.
    this.queue.length = 0;
    this.fail(abortReason(this.stop));
  }

  private start(): void {
    this.started = true;
    const { upstream, stop } = this;
    if (stop.aborted) return this.fail(abortReason(stop));
    upstream.logger.debug({ url: upstream.loggedUrl, messages: this.request.messages.length }, 'upstream request');
    stop.addEventListener('abort', this, { once: true });
    try {
      // The dispatcher's own dispatch(): undici's top-level request() would parse the URL again per call.
      upstream.dispatcher.dispatch(
        {
          origin: upstream.origin,
          path: upstream.path,
          method: 'POST',
          headers: upstream.headers,
          body: JSON.stringify(upstream.requestBody(this.request)),
        },
        this,
      );
    } catch (error) {
      this.fail(error);
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Closed before undici got to it (an abort, the reader gone): it never goes out.
    if (this.abortOnStart !== null) controller.abort(this.abortOnStart);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // An informational response (100 Continue) is followed by the real one.
    if (this.closed || statusCode < 200) return;
    if (statusCode >= 300) {
      this.errorStatus = statusCode;
      this.errorHeaders = headers;
      this.errorChunks = [];
      return;
    }
    const contentType = headerValue(headers['content-type']) ?? '';
    if (contentType !== '' && !contentType.includes('text/event-stream')) {
      const { provider } = this.upstream;
      return this.fail(
        new UpstreamError('UPSTREAM_PROTOCOL_ERROR', `${provider}: expected text/event-stream, got ${contentType.slice(0, 100)}`, {
          retryable: true,
        }),
      );
    }
    this.translator = this.upstream.translate(this);
    this.parser = createSseParser();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.closed) return;
    const { errorChunks } = this;
    if (errorChunks !== null) {
      errorChunks.push(chunk);
      this.errorBytes += chunk.length;
      if (this.errorBytes >= MAX_ERROR_BODY_BYTES) this.failWithStatus();
      return;
    }
    if (this.parser === null) return;
    this.take(this.parser.push(chunk));
    if (this.endMarkerSeen) this.finishAnswer();
    else if (this.queue.length > PAUSE_ABOVE_BATCHES && !this.closed) controller.pause();
  }

  onResponseEnd(): void {
    if (this.closed) {
      this.drained();
      return;
    }
    this.bodyDone = true;
    if (this.errorChunks !== null) return this.failWithStatus();
    if (this.parser === null) return;
    this.take(this.parser.end());
    this.finishAnswer();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.closed) {
      // After the end marker a lost socket only ends the drain; otherwise the failure is told already.
      this.drained();
      return;
    }
    this.bodyDone = true;
    this.fail(error);
  }

  /** The drain's grace is over (QueuedDeadline): the socket goes, and onResponseError follows. */
  onDeadline(): void {
    this.controller?.abort(new DOMException('The finished stream did not end within its grace', 'AbortError'));
  }

  /** Translates one read's events: their tokens become one batch, and a failing event's error follows them. */
  private take(events: readonly SseEvent[]): void {
    if (events.length === 0) return;
    const translator = this.translator!;
    let batch: Batch | null = null;
    for (const event of events) {
      let text;
      try {
        text = translator.accept(event);
      } catch (error) {
        if (batch !== null) this.queue.push(batch);
        return this.fail(error);
      }
      if (text === END_OF_STREAM) {
        this.endMarkerSeen = true;
        break;
      }
      if (text === undefined) continue;
      if (this.counted.length < MAX_COUNTED_CHARS) this.counted += text.slice(0, MAX_COUNTED_CHARS - this.counted.length);
      this.answerChars += text.length;
      // Errors raised after this token are no longer retryable: it will be handed over first.
      this.tokensSent = true;
      (batch ??= []).push({ type: 'token', text });
    }
    if (batch !== null) this.queue.push(batch);
    this.deliver();
  }

  /**
   * The end marker came, or the body ended: usage and finish are the last batch. The body's rest
   * (after the end marker) is drained meanwhile; the stream ends once both are done.
   */
  private finishAnswer(): void {
    if (this.closed) return;
    let outcome: StreamOutcome;
    try {
      outcome = this.translator!.outcome(this.endMarkerSeen);
    } catch (error) {
      return this.fail(error);
    }
    this.closed = true;
    this.stop.removeEventListener('abort', this);
    if (!this.bodyDone) {
      const { drainGrace } = this.upstream;
      drainGrace.deadlines.schedule(this, drainGrace.timers.now() + DRAIN_GRACE_MS);
    }
    const { promptTokens, completionTokens } = outcome;
    if (promptTokens !== undefined && completionTokens !== undefined) {
      this.queue.push(usageAndFinish(promptTokens, completionTokens, false, outcome.finishReason));
      return this.deliver();
    }
    this.counting = true;
    this.request.upstreamComplete?.();
    Promise.all([
      promptTokens ?? countMessageTokens(this.request.messages),
      completionTokens ?? countTokens({ sample: this.counted, totalChars: this.answerChars }),
    ]).then(
      ([prompt, completion]) => {
        this.counting = false;
        this.queue.push(usageAndFinish(prompt, completion, true, outcome.finishReason));
        this.deliver();
      },
      (error: unknown) => {
        this.counting = false;
        this.failure = error;
        this.deliver();
      },
    );
  }

  private drained(): void {
    if (this.bodyDone) return;
    this.bodyDone = true;
    this.upstream.drainGrace.deadlines.cancel(this);
    this.deliver();
  }

  /** In a microtask of its own: undici reads the socket inside resume(), so onResponseData would run inside readTo. */
  private resume(): void {
    if (!this.bodyDone) this.controller?.resume();
  }

  private failWithStatus(): void {
    const text = Buffer.concat(this.errorChunks!).subarray(0, MAX_ERROR_BODY_BYTES).toString('utf8');
    const { upstream } = this;
    this.fail(
      upstreamErrorFromStatus({
        provider: upstream.provider,
        status: this.errorStatus,
        headers: this.errorHeaders!,
        bodyText: text,
        secrets: upstream.secrets,
        now: upstream.now(),
      }),
    );
  }

  /** Maps the failure, closes the socket unless the body is done, and tells a waiting reader once the queue is read. */
  private fail(error: unknown): void {
    const { upstream } = this;
    const mapped = toUpstreamError(error, { provider: upstream.provider, tokensSent: this.tokensSent, signal: this.stop });
    if (mapped instanceof UpstreamError) {
      upstream.logger.warn({ code: mapped.code, status: mapped.status, retryable: mapped.retryable }, mapped.message);
    }
    this.failure = mapped;
    this.close(mapped);
    this.deliver();
  }

  private close(reason: unknown): void {
    this.closed = true;
    this.counting = false;
    this.stop.removeEventListener('abort', this);
    this.upstream.drainGrace.deadlines.cancel(this);
    if (this.bodyDone) return;
    // Set first: undici tells onResponseError of the abort before abort() returns.
    this.bodyDone = true;
    const error = reason instanceof Error ? reason : new DOMException('The model call was stopped', 'AbortError');
    if (this.controller === null) this.abortOnStart = error;
    else this.controller.abort(error);
  }

  /** Answers a waiting reader with what is ready: a batch, then a failure, then the end. */
  private deliver(): void {
    const { sink } = this;
    if (sink === null) return;
    if (this.queue.length === 0 && this.failure === NO_FAILURE && !this.ended) return;
    this.sink = this.waiting = null;
    this.readTo(sink);
  }

}

function usageAndFinish(promptTokens: number, completionTokens: number, estimated: boolean, reason: string): Batch {
  return [
    { type: 'usage', promptTokens, completionTokens, estimated },
    { type: 'finish', reason },
  ];
}

/**
 * An event's data as a JSON object. A line that is not one fails the stream instead of being
 * skipped: it may have carried content, and skipping it would silently corrupt the answer.
 */
export function parseEventJson(data: string, provider: string, context: TranslationContext): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new UpstreamError('UPSTREAM_PROTOCOL_ERROR', `${provider}: malformed JSON in a stream event`, {
      retryable: !context.tokensSent,
    });
  }
  if (!isRecord(parsed)) {
    throw new UpstreamError('UPSTREAM_PROTOCOL_ERROR', `${provider}: stream event is not a JSON object`, {
      retryable: !context.tokensSent,
    });
  }
  return parsed;
}

/** The body ended without the stream's end marker: the answer may be cut short. */
export function streamEndedEarly(provider: string, endMarker: string, context: TranslationContext): UpstreamError {
  return new UpstreamError('UPSTREAM_PROTOCOL_ERROR', `${provider}: stream ended before ${endMarker}`, {
    retryable: !context.tokensSent,
  });
}
