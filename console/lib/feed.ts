import type { ConsoleMetricsSubscription, ConsoleOverviewQuery } from '../generated/graphql.js';
import { ConsoleMetricsDocument, ConsoleOverviewDocument } from '../generated/graphql.js';
import type { Connection } from './connection.js';
import { createStore, type Store } from './store.js';

/**
 * What the router and operations panels show: the metrics subscription's snapshots (kept as a
 * bounded history for the charts) and an overview query polled for what the subscription does not
 * carry (arms enabled, cache, shadow). History restarts when the gateway does: its counters do.
 */

export type Snapshot = ConsoleMetricsSubscription['metrics'];
export type Overview = ConsoleOverviewQuery;

export interface Sample {
  /** Seconds since the epoch, from the snapshot's generatedAt. */
  readonly t: number;
  readonly snapshot: Snapshot;
}

export interface FeedState {
  readonly history: readonly Sample[];
  readonly latest: Snapshot | null;
  readonly startedAt: string | null;
  /** When the gateway's start time changed under a running console. */
  readonly restartedAt: number | null;
}

export interface Feed {
  readonly state: Store<FeedState>;
  readonly overview: Store<Overview | null>;
  /** Polls the overview now (after an admin action), whatever poll is already under way. */
  refreshOverview(): Promise<void>;
}

export const METRICS_INTERVAL_MS = 1_000;
const OVERVIEW_INTERVAL_MS = 2_000;
/** Fifteen minutes of one-second snapshots. */
const MAX_SAMPLES = 900;

export function createFeed(connection: Connection): Feed {
  const state = createStore<FeedState>({ history: [], latest: null, startedAt: null, restartedAt: null });
  const overview = createStore<Overview | null>(null);

  const onSnapshot = (snapshot: Snapshot) => {
    state.set((previous) => {
      const restarted = previous.startedAt !== null && previous.startedAt !== snapshot.startedAt;
      const kept = restarted ? [] : previous.history.slice(-(MAX_SAMPLES - 1));
      return {
        history: [...kept, { t: Date.parse(snapshot.generatedAt) / 1000, snapshot }],
        latest: snapshot,
        startedAt: snapshot.startedAt,
        restartedAt: restarted ? Date.now() : previous.restartedAt,
      };
    });
  };
  connection.subscribe(ConsoleMetricsDocument, { intervalMs: METRICS_INTERVAL_MS }, { next: (data) => onSnapshot(data.metrics) });

  // Results are applied in the order the polls were sent, so a slow old poll cannot undo a new one.
  let sent = 0;
  let applied = 0;
  let inFlight = false;
  const refreshOverview = async () => {
    const seq = ++sent;
    try {
      const data = await connection.request(ConsoleOverviewDocument, {});
      if (seq > applied) {
        applied = seq;
        overview.set(data);
      }
    } catch {
      // The connection state says why; the next poll tries again.
    }
  };
  const poll = () => {
    if (inFlight || connection.state.get().status !== 'connected') return;
    inFlight = true;
    void refreshOverview().finally(() => {
      inFlight = false;
    });
  };
  connection.state.subscribe(poll);
  setInterval(poll, OVERVIEW_INTERVAL_MS);

  return { state, overview, refreshOverview };
}
