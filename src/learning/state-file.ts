import { readFileSync, renameSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CodedError } from '../coded-error.js';
import type { Logger } from '../logger.js';
import { decodeSnapshot, LEARNING_FORMAT_VERSION } from './learning-format.js';
import type { LearningSnapshot } from './learning-state.js';

/**
 * The state file: a learning snapshot as JSON, decoded by learning-format.ts. A file that does not
 * describe a possible state (a negative alpha, a stamp past its clock) is refused as a whole,
 * moved aside for inspection and the router starts fresh: half-trusting it would route on garbage
 * and write it back. A file of a newer format (a rollback, or an older binary pointed at a newer
 * one's state) stops start-up instead, the file left as it is: starting fresh would save over
 * everything the newer version learnt. Writes go to a temporary file that is fsynced and renamed
 * into place, off the event loop, so a crash mid-write leaves the previous state intact.
 */

/** Learned state (the state file or its journal) of a format newer than this build reads: start-up stops. */
export function learnedStateTooNew(path: string, version: number): CodedError<'LEARNED_STATE_TOO_NEW'> {
  return new CodedError(
    'LEARNED_STATE_TOO_NEW',
    `LEARNED_STATE_TOO_NEW: ${path} holds learned state in format ${version}, newer than this version of Switchyard reads ` +
      `(format ${LEARNING_FORMAT_VERSION}). It is left as it is: run a version that reads format ${version}, ` +
      'or move the file away to start with nothing learnt',
    { path, version, readable: LEARNING_FORMAT_VERSION },
  );
}

/** Moves an unusable file aside (kept for inspection, never overwritten); returns the new name. */
export function moveAside(path: string, why: string): string {
  const aside = `${path}.${why}-${Date.now()}`;
  renameSync(path, aside);
  return aside;
}

/**
 * Reads the state file; null when there is none yet or when it was refused (then moved aside
 * with a warning). Throws LEARNED_STATE_TOO_NEW for a newer format, touching nothing.
 */
export function readStateFile(path: string, logger: Logger): LearningSnapshot | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      logger.info({ path }, 'no learned state yet: starting fresh');
      return null;
    }
    throw error;
  }
  let decoded;
  try {
    decoded = decodeSnapshot(JSON.parse(text));
  } catch (error) {
    decoded = { kind: 'malformed', reason: (error as Error).message, issues: ['not JSON'] } as const;
  }
  if (decoded.kind === 'ok') return decoded.value;
  if (decoded.kind === 'newer') throw learnedStateTooNew(path, decoded.version);
  const movedTo = moveAside(path, 'unreadable');
  logger.warn({ path, movedTo, reason: decoded.reason }, 'learned state unreadable: starting fresh');
  return null;
}

/** Writes the file durably (temporary file, fsync, rename) without blocking the event loop. */
export async function writeFileDurably(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}
