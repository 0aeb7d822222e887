import type { Logger } from '../logger.js';
import type { EventLog, EventLogStatus } from './event-log.js';
import type { LearningState } from './learning-state.js';
import { readStateFile, writeFileDurably } from './state-file.js';

/**
 * The embedded event log: one process, events applied the moment they are observed. With a state
 * file, the state is saved periodically and on stop, and restored at construction.
 */

export interface LocalEventLogDeps {
  readonly state: LearningState;
  readonly stateFile?: { readonly path: string; readonly intervalMs: number } | undefined;
  readonly logger: Logger;
}

export interface LocalEventLog extends EventLog {
  /** Saves the state file now (resolves when it is durable); a no-op without one. */
  save(): Promise<void>;
}

export function createLocalEventLog(deps: LocalEventLogDeps): LocalEventLog {
  const { state, stateFile, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let applied = 0;
  let saving: Promise<void> = Promise.resolve();

  if (stateFile) {
    const snapshot = readStateFile(stateFile.path, logger);
    if (snapshot) {
      state.restore(snapshot);
      logger.info({ path: stateFile.path, contexts: snapshot.stats.contexts.length }, 'learned state restored');
    }
  }

  const save = (): Promise<void> => {
    if (!stateFile) return Promise.resolve();
    // One write at a time: a slow disk must not let two renames race.
    saving = saving.then(async () => {
      try {
        await writeFileDurably(stateFile.path, JSON.stringify(state.snapshot()));
      } catch (error) {
        // Losing one save is survivable; taking the gateway down over it is not.
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
      return Promise.resolve();
    },
    async start() {
      if (!stateFile) return;
      timer = setInterval(() => void save(), stateFile.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await save();
    },
    save,
    status: (): EventLogStatus => ({ kind: 'embedded', state: 'ok', buffered: 0, dropped: 0, applied }),
  };
}
