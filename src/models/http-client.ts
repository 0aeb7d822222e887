import { createRequire } from 'node:module';
import type { Agent, Dispatcher } from 'undici';
import type { TimeoutsConfig } from '../config/schema.js';
import { redactSecretValues } from '../config/secrets.js';
import type { Logger } from '../logger.js';
import { createDeadlineQueue, type DeadlineQueue } from '../streaming/deadline-queue.js';
import { systemStreamTimers, type StreamTimers } from '../streaming/stream-timers.js';
import type { StopSignal } from '../stop-signal.js';
import { UpstreamError, type ModelBackend, type UpstreamErrorCode } from './backend.js';

/**
 * The HTTP plumbing shared by the provider backends: one pooled keep-alive agent per backend, where
 * requests go, and the mapping of every HTTP and socket failure to an
 * {@link UpstreamError}. Provider error texts pass through {@link redactSecrets} first, because
 * some providers echo (part of) the key they rejected.
 */

export interface HttpBackendDeps {
  /** The key, already read from the environment variable the config names. */
  readonly apiKey?: string | undefined;
  readonly logger: Logger;
  /** Shared connection pool; by default each backend owns one keep-alive Agent. */
  readonly dispatcher?: Dispatcher | undefined;
  /** Clock for Retry-After dates; Date.now by default. */
  readonly now?: (() => number) | undefined;
  /** Times how long a finished stream's rest may take to arrive; one shared queue on the system clock by default. */
  readonly drainGrace?: DrainGrace | undefined;
}

/** A backend that owns a connection pool: `close()` ends its idle keep-alive sockets. */
export interface HttpModelBackend extends ModelBackend {
  close(): Promise<void>;
}

// Loaded on the first HTTP backend rather than at import, so that a deployment of simulated models
// only (the embedded default) never holds it (~8 MB). Only the Agent: a model call uses its
// `dispatch()`, so neither the API methods (`request` and its Readable body) nor what undici's index
// loads besides (fetch, WebSocket, EventSource, cache stores, mocks: ~3 MB of heap that every
// mark-compact marks; docs/performance.md, "Tenth pass: start-up library heap") are needed. undici
// has no exports map; this is the file its index requires.
let UndiciAgent: typeof Agent | undefined;
const loadAgent = (): typeof Agent => {
  if (UndiciAgent !== undefined) return UndiciAgent;
  const require = createRequire(import.meta.url);
  return (UndiciAgent = require('undici/lib/dispatcher/agent.js') as typeof Agent);
};

export function createUpstreamAgent(timeouts: Pick<TimeoutsConfig, 'connectMs' | 'totalMs'>): Agent {
  return new (loadAgent())({
    // Covers TCP connect and the TLS handshake.
    connect: { timeout: timeouts.connectMs },
    // keepAliveTimeout stays at undici's 4 s default: below the 5 s idle timeout of common servers
    // (Node, nginx hints), so a pooled socket is never reused just as the server closes it, which
    // would fail a POST that undici cannot safely retry.
    // The precise first-token / idle / total deadlines belong to withStreamTimeouts; these only stop a
    // backend used on its own from hanging forever.
    headersTimeout: timeouts.totalMs,
    bodyTimeout: timeouts.totalMs,
  });
}

/** Where a backend's requests go, parsed once per backend rather than by undici per request. */
export interface UpstreamTarget {
  readonly origin: string;
  /** The path with its query. */
  readonly path: string;
}

export function upstreamTarget(url: string): UpstreamTarget {
  const parsed = new URL(url);
  return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
}

/** Longest provider error text kept in an UpstreamError message. */
const MAX_ERROR_TEXT_CHARS = 500;

export function abortReason(signal: Pick<StopSignal, 'aborted' | 'reason'>): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export interface StatusErrorInput {
  readonly provider: string;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly bodyText: string;
  readonly secrets: readonly string[];
  readonly now: number;
}

/**
 * 429 is a rate limit (retry elsewhere, and not here before Retry-After); 408 and 5xx (including
 * Anthropic's 529 "overloaded") are the provider's trouble, worth another arm; every other 4xx is
 * a problem with this request or this configuration that another attempt would repeat.
 */
export function upstreamErrorFromStatus(input: StatusErrorInput): UpstreamError {
  const providerText = redactSecrets(providerErrorText(input.bodyText), input.secrets);
  const message = `${input.provider} HTTP ${input.status}${providerText === '' ? '' : `: ${providerText}`}`;
  if (input.status === 429) {
    return new UpstreamError('UPSTREAM_RATE_LIMITED', message, {
      retryable: true,
      status: input.status,
      retryAfterMs: parseRetryAfter(input.headers, input.now),
    });
  }
  return new UpstreamError('UPSTREAM_HTTP_ERROR', message, {
    retryable: input.status >= 500 || input.status === 408,
    status: input.status,
    retryAfterMs: input.status === 503 ? parseRetryAfter(input.headers, input.now) : undefined,
  });
}

/** The human-readable part of a provider error body (`{"error":{"message":...}}` for both APIs). */
export function providerErrorText(bodyText: string): string {
  const trimmed = bodyText.trim();
  if (trimmed === '') return '';
  try {
    const parsed: unknown = JSON.parse(trimmed);
    const text = errorMessageOf(parsed);
    if (text !== undefined) return truncate(text);
  } catch {
    // Not JSON: fall through to the raw text (proxies answer with HTML or plain text).
  }
  return truncate(trimmed.replace(/\s+/g, ' '));
}

/** Reads `{error: {message, type}}`, `{error: "..."}` or `{message}`; undefined when none fits. */
export function errorMessageOf(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  const error = value['error'];
  if (typeof error === 'string') return error;
  if (isRecord(error)) {
    const message = typeof error['message'] === 'string' ? error['message'] : undefined;
    const type = typeof error['type'] === 'string' ? error['type'] : undefined;
    if (message !== undefined && type !== undefined) return `${type}: ${message}`;
    return message ?? type;
  }
  return typeof value['message'] === 'string' ? value['message'] : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(text: string): string {
  return text.length > MAX_ERROR_TEXT_CHARS ? `${text.slice(0, MAX_ERROR_TEXT_CHARS)}…` : text;
}

/**
 * Removes the configured secrets and anything shaped like a provider key or bearer token: OpenAI's
 * 401 text quotes a masked form of the key it rejected, which is still part of the key.
 */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  return redactSecretValues(text, secrets)
    .replace(/\bBearer\s+\S+/gi, 'Bearer [redacted]')
    .replace(/\bsk-[A-Za-z0-9*_.-]{4,}/g, '[redacted]');
}

/**
 * `retry-after-ms` (OpenAI's precise variant) first, then `Retry-After` as seconds (decimals
 * allowed) or an HTTP date. Undefined when absent or unparseable.
 */
export function parseRetryAfter(
  headers: Record<string, string | string[] | undefined>,
  now: number,
): number | undefined {
  const ms = headerValue(headers['retry-after-ms']);
  if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.ceil(Number(ms));
  const value = headerValue(headers['retry-after'])?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

export interface TransportErrorContext {
  readonly provider: string;
  /** After the first token a retry would splice two answers, so nothing is retryable any more. */
  readonly tokensSent: boolean;
  readonly signal: Pick<StopSignal, 'aborted' | 'reason'>;
}

/**
 * Maps a thrown transport error to an UpstreamError. An abort by the caller is not a failure of
 * the model: the signal's reason is returned unchanged so the caller sees its own reason.
 */
export function toUpstreamError(error: unknown, context: TransportErrorContext): unknown {
  if (error instanceof UpstreamError) return error;
  if (context.signal.aborted) return abortReason(context.signal);
  const code = errorCode(error);
  const prefix = context.provider;
  const make = (upstreamCode: UpstreamErrorCode, message: string, retryable: boolean): UpstreamError =>
    new UpstreamError(upstreamCode, `${prefix}: ${message}`, { retryable, cause: error });
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return make('UPSTREAM_CONNECT_TIMEOUT', 'connect timed out', true);
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return make('UPSTREAM_TOTAL_TIMEOUT', 'no response within the total timeout', !context.tokensSent);
  }
  if (code !== undefined && CONNECTION_ERROR_CODES.has(code)) {
    const what = context.tokensSent ? 'connection lost mid-stream' : 'connection failed';
    return make('UPSTREAM_CONNECTION_ERROR', `${what} (${code})`, !context.tokensSent);
  }
  return make('UPSTREAM_ERROR', `request failed (${code ?? errorName(error)})`, false);
}

function errorCode(error: unknown): string | undefined {
  if (!isRecord(error) && !(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Happy-eyeballs connects (localhost -> ::1 and 127.0.0.1) fail with an AggregateError.
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const innerCode = errorCode(inner);
      if (innerCode !== undefined) return innerCode;
    }
  }
  const cause = (error as { cause?: unknown }).cause;
  return cause === undefined ? undefined : errorCode(cause);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/** `{baseUrl}/{path}` whether or not baseUrl ends in a slash. */
export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path}`;
}

/** The URL without credentials or query string, safe to log. */
export function loggableUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** Where the drains of finished streams are timed: one deadline queue (one Node timer, unreferenced) and its clock. */
export interface DrainGrace {
  readonly deadlines: DeadlineQueue;
  readonly timers: StreamTimers;
}

export function createDrainGrace(timers: StreamTimers = systemStreamTimers): DrainGrace {
  return { deadlines: createDeadlineQueue({ timers, ref: false }), timers };
}

/** The grace every backend's drains share unless its deps give one (a test's clock). */
export const sharedDrainGrace = createDrainGrace();

export function lowerCaseKeys(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}
