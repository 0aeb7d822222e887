import { Tiktoken } from 'js-tiktoken/lite';
import o200kBase from 'js-tiktoken/ranks/o200k_base';
import type { ChatMessage } from './backend.js';

/**
 * Token counts for providers that report no usage. o200k_base is the encoding of OpenAI's current
 * models (gpt-4o, gpt-4.1, o-series); for other model families it is an estimate, which is why a
 * counted usage is marked `estimated`. The ranks ship inside js-tiktoken, so nothing is fetched.
 */

// Building the encoder decodes ~200k ranks (tens of milliseconds), so it happens on first use
// rather than at import, and only once per process: the encoder is immutable and shared safely.
let encoder: Tiktoken | undefined;

function getEncoder(): Tiktoken {
  encoder ??= new Tiktoken(o200kBase);
  return encoder;
}

export function countTokens(text: string): number {
  if (text === '') return 0;
  // No special tokens allowed or disallowed: "<|endoftext|>" in user text is ordinary text here,
  // not a reason to throw.
  return getEncoder().encode(text, [], []).length;
}

/**
 * Chat framing as OpenAI documents it for its chat models: each message costs 3 tokens of framing
 * plus its role and content, and every reply is primed with 3 more.
 */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_REPLY_PRIMING = 3;

export function countMessageTokens(messages: readonly ChatMessage[]): number {
  let total = TOKENS_PER_REPLY_PRIMING;
  for (const message of messages) {
    total += TOKENS_PER_MESSAGE + countTokens(message.role) + countTokens(message.content);
  }
  return total;
}

/**
 * Builds the encoder now (about half a second on a small machine) so the first usage-less stream
 * does not pay for it; call it at startup when a configured provider may omit usage.
 */
export function warmUpTokenCounter(): void {
  getEncoder();
}
