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

/**
 * The record of a line that did not decode but is a request record line (`record`, and a marker of
 * a format this build reads): null for any other line. Its record is the request store's to read
 * (src/chat/request-store.ts): one this version cannot read is that record's loss, not the journal's.
 */
export function undecodedRecord(value: unknown): { readonly record: unknown } | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !('record' in value)) return null;
  if (Object.keys(value).some((key) => key !== 'record' && key !== 'v')) return null;
  return eventRecordFormat((value as { v?: unknown }).v).kind === 'ok' ? { record: value.record } : null;
}

/** The line a journal entry is written as. */
export function encodeJournalEntry(entry: JournalEntry): string {
  return `${JSON.stringify({ ...eventRecordMarker(), ...entry })}\n`;
}
