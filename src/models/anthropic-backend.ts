import type { AnthropicModelConfig } from '../config/schema.js';
import { UpstreamError, type CompletionEvent, type CompletionRequest } from './backend.js';
import {
  bodyChunks,
  createUpstreamAgent,
  isRecord,
  joinUrl,
  loggableUrl,
  lowerCaseKeys,
  openUpstream,
  redactSecrets,
  abandonBody,
  drainFinishedBody,
  toUpstreamError,
  type HttpBackendDeps,
  type HttpModelBackend,
  type ResponseBody,
} from './http-client.js';
import { parseSse } from './sse-parser.js';
import { countMessageTokens, countTokens } from './token-counter.js';

/**
 * Anthropic's Messages API with streaming. System messages are lifted out of `messages` into the
 * top-level `system` field (joined by blank lines), as the API requires.
 *
 * Events, in order: `token`* (each `text_delta`), one `usage` (input tokens from `message_start`,
 * output tokens from the last `message_delta`), one `finish` whose reason is normalised to the
 * OpenAI vocabulary (`end_turn`/`stop_sequence` -> "stop", `max_tokens` -> "length", others as
 * sent). `ping` and event types this code does not know are ignored, as Anthropic asks clients to.
 */

/** Error event types that say "try again (elsewhere)" rather than "this request is wrong". */
const RETRYABLE_STREAM_ERRORS = new Set(['overloaded_error', 'api_error', 'rate_limit_error']);

export function createAnthropicBackend(config: AnthropicModelConfig, deps: HttpBackendDeps): HttpModelBackend {
  const ownsDispatcher = deps.dispatcher === undefined;
  const dispatcher = deps.dispatcher ?? createUpstreamAgent(config.timeouts);
  const now = deps.now ?? Date.now;
  const url = joinUrl(config.baseUrl, 'messages');
  const secrets = deps.apiKey === undefined ? [] : [deps.apiKey];
  const logger = deps.logger.child({ component: 'model-backend', provider: 'anthropic', model: config.id });
  const headers: Record<string, string> = {
    ...lowerCaseKeys(config.headers),
    'content-type': 'application/json',
    accept: 'text/event-stream',
    'anthropic-version': config.anthropicVersion,
  };
  if (deps.apiKey !== undefined && deps.apiKey !== '') headers['x-api-key'] = deps.apiKey;

  async function* stream(request: CompletionRequest): AsyncGenerator<CompletionEvent> {
    const system = request.messages
      .filter((m) => m.role === 'system')
      .map((m) => m.content)
      .join('\n\n');
    const body: Record<string, unknown> = {
      model: config.model,
      max_tokens: request.maxTokens,
      messages: request.messages
        .filter((m) => m.role !== 'system')
        .map((m) => ({ role: m.role, content: m.content })),
      stream: true,
    };
    if (system !== '') body['system'] = system;
    if (request.temperature !== undefined) body['temperature'] = request.temperature;
    logger.debug({ url: loggableUrl(url), messages: request.messages.length }, 'upstream request');

    let tokensSent = false;
    let responseBody: ResponseBody | undefined;
    let completed = false;
    try {
      const response = await openUpstream({
        provider: 'anthropic',
        url,
        headers,
        body,
        signal: request.signal,
        dispatcher,
        secrets,
        now,
      });
      responseBody = response.body;
      if (response.contentType !== '' && !response.contentType.includes('text/event-stream')) {
        throw new UpstreamError(
          'UPSTREAM_PROTOCOL_ERROR',
          `anthropic: expected text/event-stream, got ${response.contentType.slice(0, 100)}`,
          { retryable: true },
        );
      }

      let text = '';
      let inputTokens: number | undefined;
      let outputTokens: number | undefined;
      let stopReason: string | undefined;
      let stopped = false;
      for await (const event of parseSse(bodyChunks(response.body))) {
        if (event.event === 'ping') continue;
        const data = parseEventData(event.data, tokensSent);
        const type = typeof data['type'] === 'string' ? data['type'] : event.event;
        if (type === 'error') {
          const error = isRecord(data['error']) ? data['error'] : {};
          const errorType = typeof error['type'] === 'string' ? error['type'] : 'error';
          const message = typeof error['message'] === 'string' ? redactSecrets(error['message'], secrets) : '';
          throw new UpstreamError('UPSTREAM_ERROR', `anthropic stream error: ${errorType}: ${message}`, {
            retryable: !tokensSent && RETRYABLE_STREAM_ERRORS.has(errorType),
          });
        }
        if (type === 'message_start') {
          const message = data['message'];
          const usage = isRecord(message) ? message['usage'] : undefined;
          if (isRecord(usage)) {
            inputTokens = promptTokensOf(usage);
            if (typeof usage['output_tokens'] === 'number') outputTokens = usage['output_tokens'];
          }
        } else if (type === 'content_block_delta') {
          const delta = data['delta'];
          if (isRecord(delta) && delta['type'] === 'text_delta' && typeof delta['text'] === 'string') {
            if (delta['text'] !== '') {
              text += delta['text'];
              tokensSent = true;
              yield { type: 'token', text: delta['text'] };
            }
          }
        } else if (type === 'message_delta') {
          const delta = data['delta'];
          if (isRecord(delta) && typeof delta['stop_reason'] === 'string') stopReason = delta['stop_reason'];
          const usage = data['usage'];
          if (isRecord(usage)) {
            // Cumulative counts: the last message_delta holds the final figure.
            if (typeof usage['output_tokens'] === 'number') outputTokens = usage['output_tokens'];
            inputTokens = promptTokensOf(usage) ?? inputTokens;
          }
        } else if (type === 'message_stop') {
          stopped = true;
          break;
        }
      }
      if (!stopped) {
        throw new UpstreamError('UPSTREAM_PROTOCOL_ERROR', 'anthropic: stream ended before message_stop', {
          retryable: !tokensSent,
        });
      }
      completed = true;
      // Awaited after the last event, so the socket is back in the pool when the stream ends.
      const drained = drainFinishedBody(response.body);
      if (inputTokens !== undefined && outputTokens !== undefined) {
        yield { type: 'usage', promptTokens: inputTokens, completionTokens: outputTokens, estimated: false };
      } else {
        yield {
          type: 'usage',
          promptTokens: inputTokens ?? countMessageTokens(request.messages),
          completionTokens: outputTokens ?? countTokens(text),
          estimated: true,
        };
      }
      yield { type: 'finish', reason: normaliseStopReason(stopReason) };
      await drained;
    } catch (error) {
      const mapped = toUpstreamError(error, { provider: 'anthropic', tokensSent, signal: request.signal });
      if (mapped instanceof UpstreamError) {
        logger.warn({ code: mapped.code, status: mapped.status, retryable: mapped.retryable }, mapped.message);
      }
      throw mapped;
    } finally {
      if (!completed && responseBody !== undefined) abandonBody(responseBody);
    }
  }

  return {
    id: config.id,
    provider: 'anthropic',
    pricing: { inputPer1k: config.inputPer1k, outputPer1k: config.outputPer1k },
    stream,
    async close() {
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}

function parseEventData(data: string, tokensSent: boolean): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw new UpstreamError('UPSTREAM_PROTOCOL_ERROR', 'anthropic: malformed JSON in a stream event', {
      retryable: !tokensSent,
    });
  }
  if (!isRecord(parsed)) {
    throw new UpstreamError('UPSTREAM_PROTOCOL_ERROR', 'anthropic: stream event is not a JSON object', {
      retryable: !tokensSent,
    });
  }
  return parsed;
}

/** Cache writes and reads are prompt tokens too (priced differently by Anthropic; not modelled). */
function promptTokensOf(usage: Record<string, unknown>): number | undefined {
  const input = usage['input_tokens'];
  if (typeof input !== 'number') return undefined;
  const cacheWrite = typeof usage['cache_creation_input_tokens'] === 'number' ? usage['cache_creation_input_tokens'] : 0;
  const cacheRead = typeof usage['cache_read_input_tokens'] === 'number' ? usage['cache_read_input_tokens'] : 0;
  return input + cacheWrite + cacheRead;
}

function normaliseStopReason(reason: string | undefined): string {
  switch (reason) {
    case undefined:
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
      return 'length';
    default:
      return reason;
  }
}
