import { createHash } from 'node:crypto';
import type { ChatMessage } from '../models/backend.js';

export interface CacheKeyInput {
  readonly messages: readonly ChatMessage[];
  /** The effective temperature; undefined means the provider default and is keyed as such. */
  readonly temperature?: number | undefined;
  readonly maxTokens?: number | undefined;
  /** The pinned arm, when the request pins one. */
  readonly arm?: string | undefined;
  readonly tags?: readonly string[] | undefined;
}

export interface CacheKeyOptions {
  readonly keyIncludesTags: boolean;
}

/** Scope segment of keys for requests that let the router choose the arm. */
export const UNPINNED_SCOPE = 'any';

/**
 * The prefix shared by every key of one scope, for `invalidate(prefix)`: `arm/<id>/` for requests
 * pinned to that arm, `any/` for routed ones. Arm ids cannot contain "/", so one arm's prefix never
 * matches another arm's keys.
 */
export function scopePrefix(arm: string | undefined): string {
  return arm === undefined ? `${UNPINNED_SCOPE}/` : `arm/${arm}/`;
}

/**
 * Whitespace that cannot change an answer's meaning is dropped: line-ending style, trailing spaces
 * on a line, and leading/trailing blank space of the whole message. Inner spacing is kept because
 * indentation is meaning in code and tables. NFC makes composed and decomposed accents equal.
 */
export function normaliseContent(content: string): string {
  return content
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/[ \t]+$/gm, '')
    .trim();
}

/**
 * `<scope>/<sha256 hex>`: the hash covers a canonical JSON array (fixed positions, so no key-order
 * ambiguity) of everything that changes an answer. A version tag inside the hash lets a future
 * change of normalisation leave old entries unreachable instead of wrongly matched.
 */
export function cacheKey(input: CacheKeyInput, options: CacheKeyOptions): string {
  const canonical = [
    'v1',
    input.messages.map((message) => [message.role, normaliseContent(message.content)]),
    input.temperature ?? null,
    input.maxTokens ?? null,
    input.arm ?? null,
    options.keyIncludesTags ? [...new Set((input.tags ?? []).map((tag) => tag.trim()))].sort() : null,
  ];
  const digest = createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
  return `${scopePrefix(input.arm)}${digest}`;
}
