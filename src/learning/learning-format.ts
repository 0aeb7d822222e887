import { z } from 'zod';
import type { LearnedState } from '../router/bandit.js';
import type { LearningEvent, Verdict } from './learning-events.js';
import type { LearningSnapshot } from './learning-state.js';

/**
 * What learned data looks like wherever it is kept (the state file and its journal, the Redis
 * snapshot and stream), and which format versions this build reads. The one place that decides
 * whether a snapshot or an event is readable: every reader goes through `decodeSnapshot` and
 * `decodeEvent`.
 *
 * The compatibility contract (docs/reliability.md, "Learning format versions"):
 * - Every record has a format version: a snapshot its `version`, an event record (a journal line,
 *   a stream entry) its `v`; an event record without `v` is format 2, the format before events
 *   were marked (this build still writes journal lines unmarked, so the release before it, whose
 *   journal reader is strict, can read them after a rollback).
 * - Anything an older build's schema would refuse (a new field, event type or enum value) is a new
 *   format: LEARNING_FORMAT_VERSION goes up (test/learning/learning-format.test.ts fails until it
 *   does), so an older build tells "newer than I read" from "corrupt".
 * - Older formats are migrated on read (absent optional fields, the bare statistics of format 1).
 * - Newer formats are never applied, moved aside or written over: see `Decoded`.
 */

/** The newest format this build reads, and the one it writes. */
export const LEARNING_FORMAT_VERSION = 2;
/** The format of an event record that carries no `v`. */
const UNMARKED_EVENT_FORMAT = 2;

/** A record this build can use; one of a newer format (kept, never applied); or a malformed one. */
export type Decoded<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'newer'; readonly version: number }
  | {
      readonly kind: 'malformed';
      /** What is wrong, for an operator reading about a file of their own. */
      readonly reason: string;
      /** Where and what, without any of the record's values (for logs about shared data). */
      readonly issues: readonly string[];
    };

const text = z.string().min(1);
const count = z.number().finite().nonnegative();

const armEntry = z
  .object({
    armId: text,
    pulls: z.number().int().nonnegative(),
    alpha: count,
    beta: count,
    rewardWeight: count,
    rewardSum: count,
    operationalWeight: count,
    costSum: count,
    latencySum: count,
    // Absent in state saved before sharpening kept recent evidence apart; the bandit then counts it as stale.
    recentAlpha: count.optional(),
    recentBeta: count.optional(),
    stamp: count,
  })
  .strict()
  .refine((e) => e.rewardSum <= e.rewardWeight * (1 + 1e-9) + 1e-9, 'rewardSum must not exceed rewardWeight');
const context = z
  .object({
    context: text,
    clock: count,
    successes: count,
    trials: count,
    stamp: count,
    // Absent in state saved before budget pacing: no live spend yet.
    spentCalls: count.optional(),
    spentCost: count.optional(),
    arms: z.array(armEntry),
  })
  .strict()
  .refine((c) => c.stamp <= c.clock && c.arms.every((a) => a.stamp <= c.clock), 'a stamp lies past its context clock');
/** Format 1: the bandit's statistics alone (and still the statistics inside a format 2 snapshot). */
const statsSchema = z.object({ version: z.literal(1), contexts: z.array(context) }).strict();
const snapshotSchema = z
  .object({
    version: z.literal(2),
    stats: statsSchema,
    operator: z.object({ arms: z.record(z.string(), z.boolean()), shadowRate: z.number().min(0).max(1).nullable() }).strict(),
    // Absent in state saved before comparisons were shared.
    comparisons: z
      .record(
        z.string(),
        z
          .object({
            comparisons: z.number().int().nonnegative(),
            shadowPreferred: z.number().int().nonnegative(),
            primaryPreferred: z.number().int().nonnegative(),
            ties: z.number().int().nonnegative(),
          })
          .strict()
          .refine((t) => t.shadowPreferred + t.primaryPreferred + t.ties === t.comparisons, 'verdicts must add up to comparisons'),
      )
      .optional(),
    applied: z.number().int().nonnegative(),
  })
  .strict();

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
const verdictKeysDecoded: Record<Exclude<keyof Verdict, keyof z.infer<typeof verdict>>, never> = {};
void verdictKeysDecoded;

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

/** The schemas of the current format (the format test fingerprints them). */
export const learningFormatSchemas = { snapshot: snapshotSchema, stats: statsSchema, event: eventSchema } as const;

const malformed = (reason: string, issues: readonly string[] = [reason]) => ({ kind: 'malformed', reason, issues }) as const;
/** A record that failed its schema, described without its values. */
export const invalid = (error: z.ZodError) =>
  malformed(
    z.prettifyError(error),
    error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.code}`),
  );

/** A version marker's format: a positive integer, or null when it is not one. */
function formatOf(marker: unknown): number | null {
  const version = typeof marker === 'string' && /^\d+$/.test(marker) ? Number(marker) : marker;
  return typeof version === 'number' && Number.isSafeInteger(version) && version >= 1 ? version : null;
}

/** Decodes a snapshot (a state file, the Redis snapshot), migrating format 1 (bare statistics). */
export function decodeSnapshot(value: unknown): Decoded<LearningSnapshot> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return malformed('not a JSON object');
  const version = formatOf((value as { version?: unknown }).version);
  if (version === null) return malformed('no format version (a positive integer "version")');
  if (version > LEARNING_FORMAT_VERSION) return { kind: 'newer', version };
  if (version === 1) {
    const stats = statsSchema.safeParse(value);
    if (!stats.success) return invalid(stats.error);
    return { kind: 'ok', value: { version: 2, stats: stats.data as LearnedState, operator: { arms: {}, shadowRate: null }, applied: 0 } };
  }
  const parsed = snapshotSchema.safeParse(value);
  return parsed.success ? { kind: 'ok', value: parsed.data as LearningSnapshot } : invalid(parsed.error);
}

/**
 * The format of an event record from its version marker (`v` of a journal line or a stream entry;
 * undefined when the record has none): the format, if this build reads it.
 */
export function eventRecordFormat(marker: unknown): Decoded<number> {
  const version = marker === undefined ? UNMARKED_EVENT_FORMAT : formatOf(marker);
  if (version === null) return malformed('the version marker "v" is not a positive integer');
  return version > LEARNING_FORMAT_VERSION ? { kind: 'newer', version } : { kind: 'ok', value: version };
}

/** Decodes an event with its record's version marker (see {@link eventRecordFormat}). */
export function decodeEvent(value: unknown, marker: unknown): Decoded<LearningEvent> {
  const format = eventRecordFormat(marker);
  if (format.kind !== 'ok') return format;
  const parsed = eventSchema.safeParse(value);
  return parsed.success ? { kind: 'ok', value: parsed.data as LearningEvent } : invalid(parsed.error);
}

/**
 * The version marker an event record is written with: none while the format is the unmarked one
 * (what the release before the marker reads), `v` from the first format after it.
 */
export function eventRecordMarker(): { readonly v?: number } {
  return LEARNING_FORMAT_VERSION > UNMARKED_EVENT_FORMAT ? { v: LEARNING_FORMAT_VERSION } : {};
}

/** Parses a snapshot of a format this build reads; throws otherwise (for callers that hold data they wrote). */
export function parseLearningSnapshot(value: unknown): LearningSnapshot {
  const decoded = decodeSnapshot(value);
  if (decoded.kind === 'ok') return decoded.value;
  throw new Error(decoded.kind === 'newer' ? `learning format ${decoded.version} is newer than ${LEARNING_FORMAT_VERSION}` : decoded.reason);
}

/** The event types this build knows (to name a malformed event's type in a log line without echoing content). */
export const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(eventSchema.options.map((option) => option.shape.type.value));
