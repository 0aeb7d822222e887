/**
 * A view too expensive to compute per request (the analyzer snapshot, every arm's P(best) by Monte
 * Carlo, the feedback-disagreement test), computed at most once per `intervalMs` and shared by every
 * caller in between: a thousand queries in a second cost one computation, not a thousand. A view is
 * computed on demand (nothing runs while nobody asks), and at most `intervalMs` old when read.
 */

export interface IntervalView<T> {
  /** The latest value if younger than the interval; otherwise computed now, once for every caller. */
  get(): T;
  /** Computations so far (for tests and figures). */
  computations(): number;
}

export function createIntervalView<T>(compute: () => T, intervalMs: number, now: () => number = () => performance.now()): IntervalView<T> {
  let latest: { readonly value: T; readonly at: number } | null = null;
  let computations = 0;
  return {
    get() {
      const at = now();
      if (latest !== null && at - latest.at < intervalMs) return latest.value;
      computations += 1;
      latest = { value: compute(), at };
      return latest.value;
    },
    computations: () => computations,
  };
}
