import type { ArmConfig } from '../config/schema.js';
import type { ChatMessage, ModelCallRequest } from './backend.js';
import type { StopSignal } from '../stop-signal.js';

/** What a client asked for, before an arm's settings are applied. */
export interface RequestedCompletion {
  readonly messages: readonly ChatMessage[];
  readonly maxTokens?: number | undefined;
  readonly temperature?: number | undefined;
}

/**
 * The model call an arm makes for a request: the arm's system prompt first, its maxTokens as a
 * cap, its temperature where the request gives none.
 */
export function completionRequestFor(
  arm: ArmConfig,
  request: RequestedCompletion,
  defaultMaxTokens: number,
  signal: StopSignal,
): ModelCallRequest {
  return {
    messages: arm.systemPrompt ? [{ role: 'system', content: arm.systemPrompt }, ...request.messages] : request.messages,
    maxTokens: Math.min(request.maxTokens ?? arm.maxTokens ?? defaultMaxTokens, arm.maxTokens ?? Infinity),
    temperature: request.temperature ?? arm.temperature,
    signal,
  };
}
