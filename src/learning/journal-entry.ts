import { z } from 'zod';
import type { LearningEvent } from './learning-events.js';
import { decodeEvent, eventRecordFormat, eventRecordMarker, invalid, type Decoded } from './learning-format.js';

/**
 * A journal line: an event numbered by the state's applied count, or a finished request's record,
 * with the line's format marker `v` (learning-format.ts; absent on lines of format 2). The event
 * is decoded by the same schema as the Redis stream's: impossible values (a negative cost, a score
 * outside [0, 1], an unknown event type) are refused.
 */

const numbered = z.object({ v: z.unknown().optional(), n: z.number().int().positive(), event: z.unknown() }).strict();
const record = z
  .object({
    v: z.unknown().optional(),
    record: z.object({ id: z.string().min(1), createdAt: z.number().finite().nonnegative(), status: z.string().min(1) }).passthrough(),
  })
  .strict();

/** The schemas of a journal line (the format test fingerprints them with learning-format.ts's). */
export const journalLineSchemas = { numbered, record } as const;

export type JournalEntry = { readonly n: number; readonly event: LearningEvent } | { readonly record: Record<string, unknown> };

export function decodeJournalEntry(value: unknown): Decoded<JournalEntry> {
  const marker = value !== null && typeof value === 'object' ? (value as { v?: unknown }).v : undefined;
  // The marker first: a line of a newer format is newer whatever else it holds.
  const format = eventRecordFormat(marker);
  if (format.kind !== 'ok') return format;
  const line = numbered.safeParse(value);
  if (line.success) {
    const event = decodeEvent(line.data.event, line.data.v);
    return event.kind === 'ok' ? { kind: 'ok', value: { n: line.data.n, event: event.value } } : event;
  }
  const entry = record.safeParse(value);
  if (!entry.success) return invalid(line.error);
  return { kind: 'ok', value: { record: entry.data.record } };
}

/** The line a journal entry is written as. */
export function encodeJournalEntry(entry: JournalEntry): string {
  return `${JSON.stringify({ ...eventRecordMarker(), ...entry })}\n`;
}
