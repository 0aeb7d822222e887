import type { ArmConfig, SwitchyardConfig } from '../config/schema.js';
import { costUsd, type ModelPricing } from '../models/backend.js';
import type { ChatRequest } from '../chat/chat-events.js';
import type { SpendEstimate } from './client-limiter.js';

/**
 * The most a chat can cost, known before it starts: what a spend budget reserves at admission.
 * Its prompt (at four characters a token; the actual count is settled when the chat ends) plus
 * its token limit, at the prices of the pinned arm, or of the dearest enabled arm when the router
 * chooses (it may pick any of them, and failover may move the chat to any of them).
 */

/** An estimate of prompt tokens before any tokenizer ran; the chat's actual usage corrects it. */
const CHARS_PER_TOKEN = 4;

export type SpendEstimator = (request: Pick<ChatRequest, 'messages' | 'armId' | 'maxTokens'>) => SpendEstimate;

export function createSpendEstimator(deps: {
  readonly config: Pick<SwitchyardConfig, 'arms' | 'limits'>;
  readonly pricing: (modelId: string) => ModelPricing | undefined;
  /** The arms enabled now (arms can be switched at run time). */
  readonly enabledArmIds: () => readonly string[];
}): SpendEstimator {
  const { config } = deps;
  const arms = new Map(config.arms.map((arm) => [arm.id, arm]));

  const worstCaseOn = (arm: ArmConfig, promptTokens: number, maxTokens: number | undefined): number => {
    const pricing = deps.pricing(arm.model);
    if (!pricing) return 0;
    // Never past limits.maxTokens: a chat asking for more is refused as MAX_TOKENS_OUT_OF_RANGE once
    // admitted, and must not be refused first as a budget it could never spend.
    const completionTokens = Math.min(
      maxTokens ?? arm.maxTokens ?? config.limits.defaultMaxTokens,
      arm.maxTokens ?? Infinity,
      config.limits.maxTokens,
    );
    return costUsd(pricing, promptTokens, completionTokens);
  };

  return (request) => {
    const chars = request.messages.reduce((sum, m) => sum + m.content.length, 0);
    const promptTokens = Math.ceil(chars / CHARS_PER_TOKEN);
    const pinned = request.armId !== undefined;
    let worstCaseUsd = 0;
    if (pinned) {
      const arm = arms.get(request.armId!);
      if (arm !== undefined) worstCaseUsd = worstCaseOn(arm, promptTokens, request.maxTokens);
    } else {
      // Every chat of a principal with a budget comes here: no arrays per chat.
      for (const id of deps.enabledArmIds()) {
        const arm = arms.get(id);
        if (arm !== undefined) worstCaseUsd = Math.max(worstCaseUsd, worstCaseOn(arm, promptTokens, request.maxTokens));
      }
    }
    return { worstCaseUsd, pinned };
  };
}
