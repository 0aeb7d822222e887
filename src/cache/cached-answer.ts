import { z } from 'zod';

/** A complete, error-free answer as the cache stores it, with the metrics of the call that produced it. */
export interface CachedAnswer {
  text: string;
  armId: string;
  modelId: string;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  latencyMs: number;
  ttftMs: number;
  /** Epoch milliseconds when the answer was produced. */
  createdAt: number;
}

const cachedAnswerSchema = z.object({
  text: z.string(),
  armId: z.string(),
  modelId: z.string(),
  finishReason: z.string(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  costUsd: z.number(),
  latencyMs: z.number(),
  ttftMs: z.number(),
  createdAt: z.number(),
});

/**
 * Reads an answer back from its stored JSON. L2 is shared and outlives deployments, so a value
 * written by another version (or by hand) is treated as a miss rather than trusted.
 */
export function parseCachedAnswer(json: string): CachedAnswer | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  const result = cachedAnswerSchema.safeParse(raw);
  return result.success ? result.data : undefined;
}
