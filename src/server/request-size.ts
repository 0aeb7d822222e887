import type { SwitchyardConfig } from '../config/schema.js';

/**
 * The largest request the gateway reads: an HTTP body (GraphQL, /v1) or one WebSocket message.
 * Unset (`server.maxRequestBytes`), it is what the largest prompt the limits accept can take:
 * every character \u-escaped in JSON (6 bytes), plus 1 MiB for the rest of the envelope (up to
 * limits.maxMessages messages, tags, the document).
 */
export function maxRequestBytes(config: Pick<SwitchyardConfig, 'server' | 'limits'>): number {
  return config.server.maxRequestBytes ?? config.limits.maxPromptChars * 6 + 1024 * 1024;
}
