/** Shared measuring helpers for the benches: bounded runs and plain percentiles. */

export interface RunResult {
  /** Wall time of the whole run, ms. */
  readonly elapsedMs: number;
  /** Duration of each task, ms. */
  readonly durationsMs: readonly number[];
}

/** Runs `count` tasks with at most `concurrency` in flight; times each and the whole. */
export async function runAtConcurrency(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<unknown>,
): Promise<RunResult> {
  const durationsMs: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const t0 = performance.now();
      await task(index);
      durationsMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { elapsedMs: performance.now() - started, durationsMs };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank definition: the smallest value with at least p% of the samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function summarize(result: RunResult) {
  return {
    perSecond: (result.durationsMs.length * 1000) / result.elapsedMs,
    p50: percentile(result.durationsMs, 50),
    p99: percentile(result.durationsMs, 99),
  };
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}
