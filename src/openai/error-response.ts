import { CodedError } from '../coded-error.js';
import { OpenAIRequestError } from './openai-error.js';

/**
 * Switchyard's error codes as OpenAI-shaped error responses, with the HTTP statuses the official
 * SDKs map to their error classes (BadRequestError, AuthenticationError, PermissionDeniedError,
 * NotFoundError, ConflictError, RateLimitError, InternalServerError). `code` is Switchyard's code,
 * the same as `extensions.code` over GraphQL.
 */

export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { error: { message: string; type: string; param: string | null; code: string } };
}

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  MODEL_NOT_FOUND: 404,
  UNKNOWN_ARM: 404,
  NOT_FOUND: 404,
  REQUEST_NOT_FOUND: 404,
  NO_SHADOW: 404,
  REQUEST_NOT_COMPLETED: 409,
  BODY_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  BUDGET_EXHAUSTED: 429,
  TOO_MANY_CONNECTIONS: 429,
  INTERNAL_ERROR: 500,
  UPSTREAM_HTTP_ERROR: 502,
  UPSTREAM_CONNECTION_ERROR: 502,
  UPSTREAM_PROTOCOL_ERROR: 502,
  UPSTREAM_ERROR: 502,
  NO_ARM_AVAILABLE: 503,
  MODEL_UNAVAILABLE: 503,
  UPSTREAM_RATE_LIMITED: 503,
  OVERLOADED: 503,
  SHUTTING_DOWN: 503,
  UPSTREAM_CONNECT_TIMEOUT: 504,
  UPSTREAM_FIRST_TOKEN_TIMEOUT: 504,
  UPSTREAM_IDLE_TIMEOUT: 504,
  UPSTREAM_TOTAL_TIMEOUT: 504,
};

/** The request field a chat-service code is about. */
const PARAM_BY_CODE: Readonly<Record<string, string>> = {
  EMPTY_MESSAGES: 'messages',
  TOO_MANY_MESSAGES: 'messages',
  EMPTY_CONTENT: 'messages',
  PROMPT_TOO_LARGE: 'messages',
  MAX_TOKENS_OUT_OF_RANGE: 'max_tokens',
  TEMPERATURE_OUT_OF_RANGE: 'temperature',
  INVALID_TAG: 'switchyard.tags',
  INVALID_OBJECTIVE: 'switchyard.objective',
  UNKNOWN_ARM: 'model',
  ARM_DISABLED: 'model',
  FEEDBACK_TOKEN_REQUIRED: 'feedback_token',
};

function typeOf(status: number, code: string): string {
  if (code === 'BUDGET_EXHAUSTED') return 'insufficient_quota';
  if (status === 429) return 'requests';
  if (status === 403) return 'permission_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** An error response for a code and message (a coded error, or a ChatError event). */
export function codedErrorResponse(
  code: string,
  message: string,
  options: { param?: string | null; retryAfterSeconds?: number | undefined } = {},
): ErrorResponse {
  const status = STATUS_BY_CODE[code] ?? 400;
  const headers: Record<string, string> = {};
  if (options.retryAfterSeconds !== undefined) {
    headers['retry-after'] = String(options.retryAfterSeconds);
    headers['retry-after-ms'] = String(options.retryAfterSeconds * 1000);
  }
  // The SDKs retry 429s after retry-after; a day's budget is not worth waiting for in a request.
  if (code === 'BUDGET_EXHAUSTED') headers['x-should-retry'] = 'false';
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  return {
    status,
    headers,
    body: { error: { message, type: typeOf(status, code), param: options.param ?? PARAM_BY_CODE[code] ?? null, code } },
  };
}

/** Coded errors keep their code and message; anything else is masked (and logged by the caller). */
export function errorResponse(error: unknown): ErrorResponse {
  if (!(error instanceof CodedError)) return codedErrorResponse('INTERNAL_ERROR', 'Unexpected error.');
  const retryAfter = error.details['retryAfter'];
  return codedErrorResponse(error.code, error.message, {
    param: error instanceof OpenAIRequestError ? error.param : undefined,
    retryAfterSeconds: typeof retryAfter === 'number' ? retryAfter : undefined,
  });
}

export function isUnexpected(error: unknown): boolean {
  return !(error instanceof CodedError);
}
