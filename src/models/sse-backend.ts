import type { AnthropicModelConfig, OpenAIModelConfig } from '../config/schema.js';
import { modelSecrets } from '../config/secrets.js';
import { batchedEvents, UpstreamError, type CompletionEvent, type CompletionRequest } from './backend.js';
import {
  abandonBody,
  bodyChunks,
  createUpstreamAgent,
  drainFinishedBody,
  isRecord,
  loggableUrl,
  lowerCaseKeys,
  openUpstream,
  toUpstreamError,
  upstreamTarget,
  type HttpBackendDeps,
  type HttpModelBackend,
  type ResponseBody,
} from './http-client.js';
import { createSseParser, type SseEvent } from './sse-parser.js';
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

/** A batch cut short by a failing event: its tokens go out before the error is thrown. */
interface UpstreamErrorAfter {
  readonly batch: CompletionEvent[];
  readonly error: unknown;
}

export function createSseBackend(spec: SseBackendSpec): HttpModelBackend {
  const { provider, config, deps, url } = spec;
  const ownsDispatcher = deps.dispatcher === undefined;
  const dispatcher = deps.dispatcher ?? createUpstreamAgent(config.timeouts);
  const now = deps.now ?? Date.now;
  // Query parameters (Azure's api-version, a key some gateways take) are part of `url`.
  const secrets = modelSecrets({ headers: config.headers, query: Object.fromEntries(new URL(url).searchParams) }, deps.apiKey);
  const logger = deps.logger.child({ component: 'model-backend', provider, model: config.id });
  // Parsed once: the debug line's fields are built before pino knows the level is off, per request.
  const loggedUrl = loggableUrl(url);
  const target = upstreamTarget(url);
  const headers: Record<string, string> = {
    ...lowerCaseKeys(config.headers),
    'content-type': 'application/json',
    accept: 'text/event-stream',
    ...spec.providerHeaders,
  };

  async function* streamBatches(request: CompletionRequest): AsyncGenerator<readonly CompletionEvent[]> {
    const body = spec.requestBody(request);
    logger.debug({ url: loggedUrl, messages: request.messages.length }, 'upstream request');

    // The call's own stop when the model manager gives one: its Node AbortSignal is then never made.
    const signal = request.stop ?? request.signal;
    const context = { tokensSent: false, secrets };
    let responseBody: ResponseBody | undefined;
    let completed = false;
    try {
      const response = await openUpstream({
        provider,
        target,
        headers,
        body,
        signal,
        dispatcher,
        secrets,
        now,
      });
      responseBody = response.body;
      if (response.contentType !== '' && !response.contentType.includes('text/event-stream')) {
        throw new UpstreamError(
          'UPSTREAM_PROTOCOL_ERROR',
          `${provider}: expected text/event-stream, got ${response.contentType.slice(0, 100)}`,
          { retryable: true },
        );
      }

      const translator = spec.translate(context);
      const parser = createSseParser();
      // Kept only as far as the tokenizer would count it, plus the length: an answer of any size
      // costs bounded memory and a bounded count.
      let counted = '';
      let answerChars = 0;
      let endMarkerSeen = false;
      const translate = (events: readonly SseEvent[]): CompletionEvent[] | UpstreamErrorAfter => {
        const batch: CompletionEvent[] = [];
        for (const event of events) {
          let text;
          try {
            text = translator.accept(event);
          } catch (error) {
            // The tokens before the failing event still reach the consumer, then the error does.
            return { batch, error };
          }
          if (text === END_OF_STREAM) {
            endMarkerSeen = true;
            break;
          }
          if (text === undefined) continue;
          if (counted.length < MAX_COUNTED_CHARS) counted += text.slice(0, MAX_COUNTED_CHARS - counted.length);
          answerChars += text.length;
          // Errors raised after this token are no longer retryable: it will be handed over first.
          context.tokensSent = true;
          batch.push({ type: 'token', text });
        }
        return batch;
      };

      for await (const chunk of bodyChunks(response.body)) {
        const batch = translate(parser.push(chunk));
        if (!Array.isArray(batch)) {
          if (batch.batch.length > 0) yield batch.batch;
          throw batch.error;
        }
        if (batch.length > 0) yield batch;
        if (endMarkerSeen) break;
      }
      if (!endMarkerSeen) {
        const batch = translate(parser.end());
        if (!Array.isArray(batch)) {
          if (batch.batch.length > 0) yield batch.batch;
          throw batch.error;
        }
        if (batch.length > 0) yield batch;
      }
      const outcome = translator.outcome(endMarkerSeen);
      completed = true;
      // Started before the last events are handed out; awaited after them, so the socket is back in
      // the pool by the time the consumer sees the stream end, without delaying `finish`.
      const drained = outcome.endMarkerSeen ? drainFinishedBody(response.body) : Promise.resolve();
      if (outcome.promptTokens === undefined || outcome.completionTokens === undefined) request.upstreamComplete?.();
      const [promptTokens, completionTokens] = await Promise.all([
        outcome.promptTokens ?? countMessageTokens(request.messages),
        outcome.completionTokens ?? countTokens({ sample: counted, totalChars: answerChars }),
      ]);
      yield [
        {
          type: 'usage',
          promptTokens,
          completionTokens,
          estimated: outcome.promptTokens === undefined || outcome.completionTokens === undefined,
        },
        { type: 'finish', reason: outcome.finishReason },
      ];
      await drained;
    } catch (error) {
      const mapped = toUpstreamError(error, { provider, tokensSent: context.tokensSent, signal });
      if (mapped instanceof UpstreamError) {
        logger.warn({ code: mapped.code, status: mapped.status, retryable: mapped.retryable }, mapped.message);
      }
      throw mapped;
    } finally {
      // An unfinished body (consumer stopped, error) holds its socket; destroying it closes the
      // connection at once instead of draining a stream nobody reads.
      if (!completed && responseBody !== undefined) abandonBody(responseBody);
    }
  }

  return {
    id: config.id,
    provider,
    pricing: { inputPer1k: config.inputPer1k, outputPer1k: config.outputPer1k },
    stream: (request) => batchedEvents(() => streamBatches(request)),
    async close() {
      if (ownsDispatcher) await dispatcher.close();
    },
  };
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
