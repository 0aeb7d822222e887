import type { LearningEvent } from './learning-events.js';

/**
 * Where learning events go. An implementation appends each event exactly once and applies every
 * event of the log to the local learning state in log order; routing reads that state from memory,
 * never through the log.
 */
export interface EventLog {
  readonly kind: 'embedded' | 'redis';
  /** Appends the event; resolves once it has been applied to this instance's state. */
  append(event: LearningEvent): Promise<void>;
  /** Restores the latest snapshot and whatever the log holds after it; resolves once caught up. */
  start(): Promise<void>;
  /** Appends or journals what it still holds, saves a snapshot and lets go of its resources. */
  stop(): Promise<void>;
  status(): EventLogStatus;
}

export interface EventLogStatus {
  readonly kind: 'embedded' | 'redis';
  /** 'ok', or 'degraded' while events cannot reach the shared log (they are buffered meanwhile). */
  readonly state: 'ok' | 'degraded';
  /** Events observed here and not yet appended to the shared log (always 0 embedded). */
  readonly buffered: number;
  /** Buffered events dropped because the buffer was full (bounded loss while Redis is down). */
  readonly dropped: number;
  /** Events applied to this instance's state since it started. */
  readonly applied: number;
  /**
   * Events of the shared log not applied here: of a format newer than this build reads (a mixed-
   * version fleet), or malformed (a buggy or foreign writer). Always 0 embedded.
   */
  readonly skipped: { readonly newer: number; readonly malformed: number };
  /** The newest learning format met in the shared log (snapshot or event) that this build cannot read; null when none. */
  readonly newerFormat: number | null;
}
