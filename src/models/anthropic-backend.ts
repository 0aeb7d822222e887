import type { AnthropicModelConfig } from '../config/schema.js';
import { UpstreamError } from './backend.js';
import { isRecord, joinUrl, redactSecrets, type HttpBackendDeps, type HttpModelBackend } from './http-client.js';
import { createSseBackend, END_OF_STREAM, parseEventJson, streamEndedEarly, type SseTranslation } from './sse-backend.js';

/**
 * Anthropic's Messages API with streaming. System messages are lifted out of `messages` into the
 * top-level `system` field (joined by blank lines), as the API requires; a temperature past 1 is
 * sent as 1, Anthropic's highest, and turns the API refuses are mended (see requestBody).
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
      // The Messages API refuses what OpenAI's format (and so Switchyard's) allows: an empty turn,
      // a final assistant turn (a prefill) ending in whitespace, no turn at all beside the system
      // prompt. Empty turns say nothing and are left out; a system prompt alone is the user's turn.
      const turns = request.messages
        .filter((m) => m.role !== 'system' && m.content.trim() !== '')
        .map((m) => ({ role: m.role, content: m.content }));
      const last = turns.at(-1);
      if (last?.role === 'assistant') last.content = last.content.trimEnd();
      const body: Record<string, unknown> = {
        model: config.model,
        max_tokens: request.maxTokens,
        messages: turns.length > 0 ? turns : [{ role: 'user', content: system }],
        stream: true,
      };
      if (system !== '' && turns.length > 0) body['system'] = system;
      // Anthropic's temperature runs 0–1, OpenAI's and Switchyard's 0–2: past 1 is its most random.
      if (request.temperature !== undefined) body['temperature'] = Math.min(request.temperature, 1);
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
