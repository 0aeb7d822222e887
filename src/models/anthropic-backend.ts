import type { AnthropicModelConfig } from '../config/schema.js';
import { UpstreamError } from './backend.js';
import { isRecord, joinUrl, redactSecrets, type HttpBackendDeps, type HttpModelBackend } from './http-client.js';
import { createSseBackend, END_OF_STREAM, parseEventJson, streamEndedEarly, type SseTranslation } from './sse-backend.js';

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
  const providerHeaders: Record<string, string> = { 'anthropic-version': config.anthropicVersion };
  if (deps.apiKey !== undefined && deps.apiKey !== '') providerHeaders['x-api-key'] = deps.apiKey;
  return createSseBackend({
    provider: 'anthropic',
    config,
    deps,
    url: joinUrl(config.baseUrl, 'messages'),
    providerHeaders,
    requestBody(request) {
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
      return body;
    },
    translate: translateEvents,
  });
}

const translateEvents: SseTranslation = (context) => {
  let inputTokens: number | undefined;
  let outputTokens: number | undefined;
  let stopReason: string | undefined;
  return {
    accept(event) {
      if (event.event === 'ping') return undefined;
      const data = parseEventJson(event.data, 'anthropic', context);
      const type = typeof data['type'] === 'string' ? data['type'] : event.event;
      if (type === 'error') {
        const error = isRecord(data['error']) ? data['error'] : {};
        const errorType = typeof error['type'] === 'string' ? error['type'] : 'error';
        const message = typeof error['message'] === 'string' ? redactSecrets(error['message'], context.secrets) : '';
        throw new UpstreamError('UPSTREAM_ERROR', `anthropic stream error: ${errorType}: ${message}`, {
          retryable: !context.tokensSent && RETRYABLE_STREAM_ERRORS.has(errorType),
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
        const text = isRecord(delta) && delta['type'] === 'text_delta' ? delta['text'] : undefined;
        if (typeof text === 'string' && text !== '') return text;
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
        return END_OF_STREAM;
      }
      return undefined;
    },
    outcome(endMarkerSeen) {
      if (!endMarkerSeen) throw streamEndedEarly('anthropic', 'message_stop', context);
      return {
        endMarkerSeen,
        promptTokens: inputTokens,
        completionTokens: outputTokens,
        finishReason: normaliseStopReason(stopReason),
      };
    },
  };
};

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
