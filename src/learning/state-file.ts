import { readFileSync, renameSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import type { LearnedState } from '../router/bandit.js';
import type { LearningSnapshot } from './learning-state.js';

/**
 * The state file: a learning snapshot as JSON, validated as strictly as the configuration. A file
 * that does not describe a possible state (a negative alpha, a stamp past its clock) is refused as
 * a whole, moved aside for inspection and the router starts fresh: half-trusting it would route on
 * garbage and write it back. Writes go to a temporary file that is fsynced and renamed into place,
 * off the event loop, so a crash mid-write leaves the previous state intact.
 */

const count = z.number().finite().nonnegative();
const entrySchema = z
  .object({
    armId: z.string().min(1),
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
const contextSchema = z
  .object({
    context: z.string().min(1),
    clock: count,
    successes: count,
    trials: count,
    stamp: count,
    // Absent in state saved before budget pacing: no live spend yet.
    spentCalls: count.optional(),
    spentCost: count.optional(),
    arms: z.array(entrySchema),
  })
  .strict()
  .refine((c) => c.stamp <= c.clock && c.arms.every((a) => a.stamp <= c.clock), 'a stamp lies past its context clock');
const statsSchema = z.object({ version: z.literal(1), contexts: z.array(contextSchema) }).strict();
const snapshotSchema = z
  .object({
    version: z.literal(2),
    stats: statsSchema,
    operator: z
      .object({ arms: z.record(z.string(), z.boolean()), shadowRate: z.number().min(0).max(1).nullable() })
      .strict(),
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

/** Parses a snapshot (or a state file from before snapshots had operator state); throws a ZodError when it is impossible. */
export function parseLearningSnapshot(value: unknown): LearningSnapshot {
  if (value !== null && typeof value === 'object' && (value as { version?: unknown }).version === 1) {
    return { version: 2, stats: statsSchema.parse(value) as LearnedState, operator: { arms: {}, shadowRate: null }, applied: 0 };
  }
  return snapshotSchema.parse(value) as LearningSnapshot;
}

/** Moves an unusable file aside (kept for inspection, never overwritten); returns the new name. */
export function moveAside(path: string, why: string): string {
  const aside = `${path}.${why}-${Date.now()}`;
  renameSync(path, aside);
  return aside;
}

/**
 * Reads the state file; null when there is none yet or when it was refused (then moved aside
 * with a warning).
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
  try {
    return parseLearningSnapshot(JSON.parse(text));
  } catch (error) {
    const movedTo = moveAside(path, 'unreadable');
    const reason = error instanceof z.ZodError ? z.prettifyError(error) : (error as Error).message;
    logger.warn({ path, movedTo, reason }, 'learned state unreadable: starting fresh');
    return null;
  }
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
