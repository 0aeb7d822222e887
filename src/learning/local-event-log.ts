import { existsSync, readFileSync, renameSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import type { EventLog, EventLogStatus } from './event-log.js';
import type { LearningEvent } from './learning-events.js';
import type { LearningState } from './learning-state.js';
import { decodeJournalEntry, encodeJournalEntry, undecodedRecord, type JournalEntry } from './journal-entry.js';
import type { Decoded } from './learning-format.js';
import { learnedStateTooNew, readStateFile, writeFileDurably } from './state-file.js';

/**
 * The embedded event log: one process, events applied the moment they are observed. With a state
 * file, every event (and every finished request's record, so that feedback survives a restart) is
 * also appended to a journal beside it, `<stateFile>.journal`, fsynced in batches at most
 * `journalFsyncMs` apart; an append resolves once its batch is on disk, so a feedback answer is
 * never given for a score that `kill -9` could lose. Pulls and outcomes are not waited for: what a
 * crash can lose of them is the last `journalFsyncMs` (plus one fsync).
 *
 * Compaction: each periodic save moves the journal aside (`.journal.1`), starts a new one with the
 * request records still live, writes the state file (which covers every event journaled before)
 * and deletes the old journal. Restart: the state file, then both journals' events numbered past
 * it, in order. A torn last line (a crash mid-write) is skipped with a warning; a request record
 * line is handed on whatever its record holds (the request store skips one it cannot read); any
 * other line that is not a valid entry makes the journal refused whole and moved aside, like a bad
 * state file. A state file or journal line of a newer format (learning-format.ts) stops start-up
 * with LEARNED_STATE_TOO_NEW before anything is moved, replayed or written.
 */

export interface LocalEventLogDeps {
  readonly state: LearningState;
  readonly stateFile?: { readonly path: string; readonly intervalMs: number; readonly journalFsyncMs?: number } | undefined;
  readonly logger: Logger;
  /**
   * Request records found in the journal at start-up, oldest first, as written (to put back in the
   * request store, whose schema reads them): a record line is handed on whatever its record holds.
   */
  readonly onRecord?: (record: unknown) => void;
  /** Applied events replayed at start-up (to bring restored records' scores up to date). */
  readonly onReplayed?: (event: LearningEvent) => void;
  /** The records to carry into a fresh journal at compaction. */
  readonly liveRecords?: () => Iterable<Record<string, unknown>>;
}

export interface LocalEventLog extends EventLog {
  /** Saves the state file now (resolves when it is durable); a no-op without one. */
  save(): Promise<void>;
  /** Journals a finished request's record; resolves once durable (at once without a state file). */
  journalRecord(record: Record<string, unknown>): Promise<void>;
}

/** A journal entry as read: a record line's record as written (see LocalEventLogDeps.onRecord). */
type ReadEntry = JournalEntry | { readonly record: unknown };

// No event is skipped here: a newer line stops start-up, a malformed one sets its journal aside.
const NOTHING_SKIPPED = { newer: 0, malformed: 0 } as const;

export function createLocalEventLog(deps: LocalEventLogDeps): LocalEventLog {
  const { state, stateFile, logger } = deps;
  const journalPath = stateFile ? `${stateFile.path}.journal` : null;
  const fsyncMs = stateFile?.journalFsyncMs ?? 50;
  let timer: NodeJS.Timeout | undefined;
  let applied = 0;
  let saving: Promise<void> = Promise.resolve();
  let handle: FileHandle | null = null;
  let lines: string[] = [];
  let waiters: Array<() => void> = [];
  let flushTimer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> = Promise.resolve();

  /**
   * Decodes a journal without touching it: null when there is none. A line of a newer format
   * throws LEARNED_STATE_TOO_NEW wherever it is (before anything is moved aside or replayed).
   */
  const readJournal = (path: string): { entries: ReadEntry[]; unreadable: { line: number; reason: string } | null } | null => {
    if (!existsSync(path)) return null;
    const raw = readFileSync(path, 'utf8').split('\n');
    const entries: ReadEntry[] = [];
    let unreadable: { line: number; reason: string } | null = null;
    for (let i = 0; i < raw.length; i++) {
      const line = raw[i]!;
      if (line === '') continue;
      let decoded: Decoded<JournalEntry>;
      let value: unknown;
      try {
        value = JSON.parse(line);
        decoded = decodeJournalEntry(value);
      } catch (error) {
        decoded = { kind: 'malformed', reason: (error as Error).message, issues: ['not JSON'] };
      }
      if (decoded.kind === 'newer') throw learnedStateTooNew(path, decoded.version);
      const record = decoded.kind === 'malformed' ? undecodedRecord(value) : null;
      if (decoded.kind === 'ok') entries.push(decoded.value);
      else if (record) entries.push(record);
      else if (raw.slice(i + 1).every((rest) => rest === '')) logger.warn({ path, line: i + 1 }, 'journal: torn last record skipped');
      else unreadable ??= { line: i + 1, reason: decoded.reason };
    }
    return { entries, unreadable };
  };

  const replay = (path: string, journal: ReturnType<typeof readJournal>, from: number): void => {
    if (!journal) return;
    if (journal.unreadable) {
      const movedTo = `${path}.unreadable-${Date.now()}`;
      renameSync(path, movedTo);
      logger.warn({ path, movedTo, ...journal.unreadable }, 'journal unreadable: moved aside, not replayed');
      return;
    }
    for (const entry of journal.entries) {
      if ('record' in entry) deps.onRecord?.(entry.record);
      else if (entry.n > from && entry.n > state.applied()) {
        state.apply(entry.event);
        deps.onReplayed?.(entry.event);
      }
    }
  };

  if (stateFile) {
    // Everything is read before anything is moved aside: learned state of a newer format stops start-up untouched.
    const older = readJournal(`${journalPath}.1`);
    const current = readJournal(journalPath!);
    const snapshot = readStateFile(stateFile.path, logger);
    if (snapshot) {
      state.restore(snapshot);
      logger.info({ path: stateFile.path, contexts: snapshot.stats.contexts.length }, 'learned state restored');
    }
    const from = state.applied();
    replay(`${journalPath}.1`, older, from);
    replay(journalPath!, current, from);
    if (state.applied() > from) logger.info({ events: state.applied() - from }, 'journal replayed');
  }

  const openJournal = async () => {
    handle ??= await open(journalPath!, 'a');
    return handle;
  };

  const flush = (): Promise<void> => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    const batch = lines;
    const done = waiters;
    lines = [];
    waiters = [];
    flushing = flushing.then(async () => {
      if (batch.length > 0) {
        try {
          const file = await openJournal();
          await file.write(batch.join(''));
          await file.datasync();
        } catch (error) {
          logger.error({ err: error, path: journalPath }, 'could not journal learning events');
        }
      }
      for (const resolve of done) resolve();
    });
    return flushing;
  };

  const journal = (entry: JournalEntry): Promise<void> => {
    if (!journalPath) return Promise.resolve();
    lines.push(encodeJournalEntry(entry));
    const written = new Promise<void>((resolve) => waiters.push(resolve));
    if (fsyncMs === 0) void flush();
    else flushTimer ??= setTimeout(() => void flush(), fsyncMs);
    return written;
  };

  const save = (): Promise<void> => {
    if (!stateFile) return Promise.resolve();
    // One save at a time: a slow disk must not let two renames race.
    saving = saving.then(async () => {
      try {
        await flush();
        const snapshot = JSON.stringify(state.snapshot());
        // Everything journaled so far is in `snapshot`: the journal moves aside and a new one starts.
        const old = handle;
        handle = null;
        await old?.close();
        const aside = `${journalPath}.1`;
        if (existsSync(journalPath!)) await rename(journalPath!, aside);
        for (const record of deps.liveRecords?.() ?? []) lines.push(encodeJournalEntry({ record }));
        await flush();
        await writeFileDurably(stateFile.path, snapshot);
        await rm(aside, { force: true });
      } catch (error) {
        // Losing one save is survivable (the journal still holds what it covers); taking the gateway down over it is not.
        logger.error({ err: error, path: stateFile.path }, 'could not save the learned state');
      }
    });
    return saving;
  };

  return {
    kind: 'embedded',
    append(event) {
      state.apply(event);
      applied += 1;
      return journal({ n: state.applied(), event });
    },
    journalRecord: (record) => journal({ record }),
    async start() {
      if (!stateFile) return;
      timer = setInterval(() => void save(), stateFile.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await save();
      await flushing;
      await handle?.close();
      handle = null;
    },
    save,
    status: (): EventLogStatus => ({ kind: 'embedded', state: 'ok', buffered: 0, dropped: 0, applied, skipped: NOTHING_SKIPPED, newerFormat: null }),
  };
}
