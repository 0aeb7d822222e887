import { randomUUID } from 'node:crypto';
import {
  startProviderServer,
  writeTokens,
  type ConnectionFault,
  type FakeProviderServer,
  type ProviderScript,
  type ResponseContext,
  type ScriptSource,
} from './provider-server.js';

export type { RecordedRequest } from './provider-server.js';

/**
 * A local stand-in for Anthropic's Messages API (`POST /v1/messages`, `stream: true`), written to
 * the documented event flow: `message_start`, `content_block_start`, `ping`, one
 * `content_block_delta` (`text_delta`) per piece, `content_block_stop`, `message_delta` (stop
 * reason and cumulative output tokens), `message_stop`; each as an `event:` line and a `data:` line.
 * Errors are `{"type":"error","error":{"type","message"},"request_id"}` with the documented status
 * (529 overloaded_error among them); mid-stream errors are an `event: error`.
 */

export type AnthropicStreamFault =
  | ConnectionFault
  | { readonly kind: 'malformed'; readonly afterTokens: number }
  /** `event: error` with this error type (default overloaded_error), then the response ends. */
  | { readonly kind: 'error-event'; readonly afterTokens: number; readonly type?: string; readonly message?: string };

export interface FakeAnthropicScript extends ProviderScript<AnthropicStreamFault> {
  /** Defaults to end_turn, or max_tokens when `max_tokens` cut the tokens short. */
  readonly stopReason?: string;
  readonly inputTokens?: number;
}

export type FakeAnthropicServer = FakeProviderServer<FakeAnthropicScript>;

export const DEFAULT_ANTHROPIC_TOKENS = ['Hi', ' there', '!'] as const;

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export function startFakeAnthropic(
  options: { readonly script?: ScriptSource<FakeAnthropicScript> } = {},
): Promise<FakeAnthropicServer> {
  return startProviderServer<FakeAnthropicScript>({
    defaultScript: options.script ?? {},
    respond: respondAnthropic,
  });
}

async function respondAnthropic(context: ResponseContext, script: FakeAnthropicScript): Promise<void> {
  const { res, request } = context;
  await context.pause(script.headersDelayMs);
  const requestId = `req_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  const sendError = (status: number, type: string | undefined, message: string | undefined): void => {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': requestId };
    if (script.retryAfter !== undefined) headers['retry-after'] = script.retryAfter;
    res.writeHead(status, headers);
    res.end(
      JSON.stringify({
        type: 'error',
        error: { type: type ?? ERROR_TYPES[status] ?? 'api_error', message: message ?? `Fake error ${status}` },
        request_id: requestId,
      }),
    );
  };
  if (request.method !== 'POST' || !request.path.endsWith('/messages')) {
    sendError(404, 'not_found_error', 'Not found');
    return;
  }
  const invalid = invalidRequest(request.body);
  if (invalid !== null) {
    sendError(400, 'invalid_request_error', invalid);
    return;
  }
  if (script.status !== undefined && script.status !== 200) {
    sendError(script.status, script.errorType, script.errorMessage);
    return;
  }
  const body = (request.body ?? {}) as { model?: string; max_tokens?: number };
  const allTokens = script.tokens ?? DEFAULT_ANTHROPIC_TOKENS;
  const tokens = allTokens.slice(0, body.max_tokens ?? Number.POSITIVE_INFINITY);
  const stopReason = script.stopReason ?? (tokens.length < allTokens.length ? 'max_tokens' : 'end_turn');
  const inputTokens = script.inputTokens ?? 21;
  const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;

  context.openEventStream({ 'request-id': requestId });
  await context.pause(script.firstTokenDelayMs);
  await context.write(
    event('message_start', {
      type: 'message_start',
      message: {
        id: `msg_${randomUUID().replaceAll('-', '').slice(0, 24)}`,
        type: 'message',
        role: 'assistant',
        model: body.model ?? 'claude-sonnet-4-5',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: inputTokens,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
          output_tokens: 1,
        },
      },
    }),
  );
  await context.write(
    event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
  );
  await context.write(event('ping', { type: 'ping' }));
  const writeToken = (text: string): Promise<void> =>
    context.write(
      event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }),
    );
  const writeFault = async (fault: Exclude<AnthropicStreamFault, ConnectionFault>): Promise<boolean> => {
    if (fault.kind === 'malformed') {
      await context.write('event: content_block_delta\ndata: {"type":"content_block_delta","index":0,\n\n');
      return false;
    }
    await context.write(
      event('error', {
        type: 'error',
        error: { type: fault.type ?? 'overloaded_error', message: fault.message ?? 'Overloaded' },
      }),
    );
    res.end();
    return true;
  };
  if (await writeTokens(context, script, tokens, writeToken, writeFault)) return;
  await context.write(event('content_block_stop', { type: 'content_block_stop', index: 0 }));
  await context.write(
    event('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: { output_tokens: tokens.length },
    }),
  );
  await context.write(event('message_stop', { type: 'message_stop' }));
  res.end();
}

/**
 * The checks of the Messages API that a translation from OpenAI's format can trip, with the
 * API's own messages: a temperature past Anthropic's 0–1 (OpenAI's range is 0–2), no messages
 * at all (a system prompt alone), an empty message, a prefill ending in whitespace.
 */
function invalidRequest(body: unknown): string | null {
  const { max_tokens: maxTokens, temperature, messages } = (body ?? {}) as { max_tokens?: unknown; temperature?: unknown; messages?: unknown };
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) return 'max_tokens: Field required';
  if (temperature !== undefined && (typeof temperature !== 'number' || temperature < 0 || temperature > 1)) return 'temperature: range: 0..1';
  if (!Array.isArray(messages) || messages.length === 0) return 'messages: at least one message is required';
  const list = messages as Array<{ role?: unknown; content?: unknown }>;
  for (const [i, message] of list.entries()) {
    const last = i === list.length - 1 && message.role === 'assistant';
    const text = typeof message.content === 'string' ? message.content : '';
    if (text.trim() === '' && !last) {
      return `messages.${i}: all messages must have non-empty content except for the optional final assistant message`;
    }
    if (last && text !== text.trimEnd()) return 'messages: final assistant content cannot end with trailing whitespace';
  }
  return null;
}
