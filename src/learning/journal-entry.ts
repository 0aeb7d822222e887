import { z } from 'zod';
import type { LearningEvent, Verdict } from './learning-events.js';

/**
 * A journal line, validated as strictly as the configuration: an event numbered by the state's
 * applied count, or a finished request's record. Impossible values (a negative cost, a score
 * outside [0, 1], an unknown event type) are refused.
 */

const text = z.string().min(1);
const count = z.number().finite().nonnegative();
const envelope = { id: text, origin: text, at: count };
const verdict = z
  .object({
    armId: text,
    context: text,
    score: z.number().min(0).max(1),
    previous: z.number().min(0).max(1).nullable(),
    costUsd: count,
    latencyMs: count,
    weight: z.number().min(0).max(1).optional(),
  })
  .strict();
// A field added to Verdict but not here made every journal invalid once (so kill -9 restored
// nothing): this fails to compile while a Verdict key is missing from the schema.
const verdictKeysJournaled: Record<Exclude<keyof Verdict, keyof z.infer<typeof verdict>>, never> = {};
void verdictKeysJournaled;

const eventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('pull'), requestId: text, armId: text, context: text, ...envelope }).strict(),
  z
    .object({
      type: z.literal('outcome'),
      kind: z.enum(['primary', 'shadow', 'cached', 'refused']),
      requestId: text,
      armId: text,
      modelId: text,
      context: text,
      costUsd: count,
      latencyMs: count,
      ttftMs: count.nullable(),
      promptTokens: count,
      completionTokens: count,
      error: z.boolean(),
      ...envelope,
    })
    .strict(),
  z
    .object({
      type: z.literal('judgement'),
      kind: z.enum(['feedback', 'comparison']),
      requestId: text,
      client: z.string().nullable(),
      shared: z.boolean(),
      verdicts: z.array(verdict).min(1).max(2),
      comment: z.string().nullable().optional(),
      ...envelope,
    })
    .strict(),
  z.object({ type: z.literal('arm-enabled'), armId: text, enabled: z.boolean(), ...envelope }).strict(),
  z.object({ type: z.literal('shadow-rate'), rate: z.number().min(0).max(1), ...envelope }).strict(),
  z
    .object({
      type: z.literal('logged'),
      weight: z.number().finite().positive(),
      rows: z.array(
        z
          .object({
            context: text,
            outcomes: z.array(
              z.object({ armId: text, quality: z.number().min(0).max(1), costUsd: count.nullable(), latencyMs: count.nullable() }).strict(),
            ),
          })
          .strict(),
      ),
      ...envelope,
    })
    .strict(),
]);

const entrySchema = z.union([
  z.object({ n: z.number().int().positive(), event: eventSchema }).strict(),
  z.object({ record: z.object({ id: text, createdAt: count, status: text }).passthrough() }).strict(),
]);

export type JournalEntry = { readonly n: number; readonly event: LearningEvent } | { readonly record: Record<string, unknown> };

export function parseJournalEntry(value: unknown): JournalEntry {
  return entrySchema.parse(value) as JournalEntry;
}
