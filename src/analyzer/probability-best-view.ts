import { createGrowingLru } from '../growing-lru.js';

/**
 * Every arm's probability of being best in a context (Monte Carlo over the posteriors, the most
 * expensive figure `arms` and `armsInContext` show), estimated at most once per `intervalMs` per
 * context and shared by every caller in between: a thousand queries in a second cost one
 * estimate per context, not a thousand. The other figures of an arm (pulls, posterior) stay
 * exact: they are cheap. At most `maxContexts` contexts' estimates are kept.
 */

export interface ProbabilityBestView {
  /** Arm id → probability of being best in `context`, at most `intervalMs` old. */
  of(context: string): ReadonlyMap<string, number>;
  /** Estimates made so far (for tests and figures). */
  estimates(): number;
}

export function createProbabilityBestView(
  estimate: (context: string) => ReadonlyMap<string, number>,
  options: { readonly intervalMs: number; readonly maxContexts: number },
  now: () => number = () => performance.now(),
): ProbabilityBestView {
  const cache = createGrowingLru<string, { readonly value: ReadonlyMap<string, number>; readonly at: number }>(options.maxContexts);
  let estimates = 0;
  return {
    of(context) {
      const at = now();
      const cached = cache.get(context);
      if (cached && at - cached.at < options.intervalMs) return cached.value;
      estimates += 1;
      const value = estimate(context);
      cache.set(context, { value, at });
      return value;
    },
    estimates: () => estimates,
  };
}
