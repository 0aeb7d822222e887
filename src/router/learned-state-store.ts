import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import type { BanditPolicy, LearnedState } from './bandit.js';

/**
 * Keeps what the router learnt across restarts: the policy's statistics are written to a JSON file
 * periodically and on shutdown, and read back at start-up. Writes go to a temporary file renamed
 * into place, so a crash mid-write leaves the previous state intact.
 */

const finite = z.number().refine(Number.isFinite, 'must be finite');
const entrySchema = z.object({
  armId: z.string(),
  pulls: finite,
  alpha: finite,
  beta: finite,
  rewardWeight: finite,
  rewardSum: finite,
  operationalWeight: finite,
  costSum: finite,
  latencySum: finite,
  // Absent in state saved before sharpening kept recent evidence apart; the bandit then counts it as stale.
  recentAlpha: finite.optional(),
  recentBeta: finite.optional(),
  stamp: finite,
});
const learnedStateSchema = z.object({
  version: z.literal(1),
  contexts: z.array(
    z.object({
      context: z.string(),
      clock: finite,
      successes: finite,
      trials: finite,
      stamp: finite,
      arms: z.array(entrySchema),
    }),
  ),
});

export interface LearnedStateStore {
  /** Restores the file's state into the policy; a missing file is a fresh start. */
  load(): void;
  save(): void;
  /** Saves every `intervalMs` until stopped. */
  start(): void;
  /** Stops the timer and saves once more. */
  stop(): void;
}

export interface LearnedStateStoreDeps {
  readonly path: string;
  readonly intervalMs: number;
  readonly policy: Pick<BanditPolicy, 'snapshot' | 'restore'>;
  readonly armIds: ReadonlySet<string>;
  readonly logger: Logger;
}

export function createLearnedStateStore(deps: LearnedStateStoreDeps): LearnedStateStore {
  const { path, policy, logger } = deps;
  let timer: NodeJS.Timeout | undefined;

  const save = (): void => {
    try {
      mkdirSync(dirname(path), { recursive: true });
      const temporary = `${path}.${process.pid}.tmp`;
      writeFileSync(temporary, JSON.stringify(policy.snapshot()));
      renameSync(temporary, path);
    } catch (error) {
      // Losing one save is survivable; taking the gateway down over it is not.
      logger.error({ err: error, path }, 'could not save the learned state');
    }
  };

  return {
    load() {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          logger.info({ path }, 'no learned state yet: starting fresh');
          return;
        }
        throw error;
      }
      let state: LearnedState;
      try {
        state = learnedStateSchema.parse(JSON.parse(text)) as LearnedState;
      } catch (error) {
        // Keep the unreadable file for inspection rather than overwrite it with a fresh state.
        const aside = `${path}.unreadable-${Date.now()}`;
        renameSync(path, aside);
        logger.error({ err: error, path, movedTo: aside }, 'learned state unreadable: starting fresh');
        return;
      }
      policy.restore(state, deps.armIds);
      logger.info({ path, contexts: state.contexts.length }, 'learned state restored');
    },
    save,
    start() {
      timer = setInterval(save, deps.intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      save();
    },
  };
}
