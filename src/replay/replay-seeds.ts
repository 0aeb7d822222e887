import type { ReplayRow } from './replay-file.js';
import { runReplay, type ReplayOptions, type ReplayReport } from './replay-runner.js';

/**
 * One replay per seed over the same rows and configuration: what a run achieves, and how much of
 * it is luck (the spread over seeds).
 */

export interface Spread {
  readonly mean: number;
  /** Sample standard deviation over seeds (0 for one seed). */
  readonly sd: number;
  readonly min: number;
  readonly max: number;
}

export interface SeededCurvePoint {
  readonly rows: number;
  /** The window's quality and cost over seeds, as shares of the best single model's in the same window. */
  readonly quality: Spread;
  readonly cost: Spread | null;
}

export interface SeedsReport {
  readonly seeds: readonly number[];
  readonly n: number;
  readonly bestSingle: ReplayReport['bestSingle'];
  readonly random: ReplayReport['random'];
  readonly oracle: ReplayReport['oracle'];
  readonly quality: Spread;
  readonly costPerQuery: Spread;
  /** Shares of the best single model's quality and cost (cost null when that model is free). */
  readonly relative: { readonly quality: Spread; readonly cost: Spread | null };
  readonly curve: readonly SeededCurvePoint[];
  readonly runs: ReadonlyArray<{ readonly seed: number } & Pick<ReplayReport, 'quality' | 'costPerQuery' | 'relative' | 'shares'>>;
}

export function spreadOf(values: readonly number[]): Spread {
  if (values.length === 0) throw new RangeError('a spread needs at least one value');
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.length > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, sd: Math.sqrt(variance), min: Math.min(...values), max: Math.max(...values) };
}

export function runReplaySeeds(
  rows: readonly ReplayRow[],
  options: Omit<ReplayOptions, 'seed'>,
  seeds: readonly number[],
): SeedsReport {
  if (seeds.length === 0) throw new RangeError('give at least one seed');
  const reports = seeds.map((seed) => runReplay(rows, { ...options, seed }));
  const first = reports[0]!;
  const { bestSingle } = first;
  const share = (value: number, of: number) => (of > 0 ? value / of : 0);
  const costShares = bestSingle.costPerQuery > 0 ? reports.map((r) => r.relative.cost!) : null;
  return {
    seeds,
    n: first.n,
    bestSingle,
    random: first.random,
    oracle: first.oracle,
    quality: spreadOf(reports.map((r) => r.quality)),
    costPerQuery: spreadOf(reports.map((r) => r.costPerQuery)),
    relative: {
      quality: spreadOf(reports.map((r) => r.relative.quality)),
      cost: costShares && spreadOf(costShares),
    },
    curve: first.curve.map((point, i) => ({
      rows: point.rows,
      quality: spreadOf(reports.map((r) => share(r.curve[i]!.quality, point.bestSingle.quality))),
      cost:
        point.bestSingle.costPerQuery > 0
          ? spreadOf(reports.map((r) => share(r.curve[i]!.costPerQuery, point.bestSingle.costPerQuery)))
          : null,
    })),
    runs: reports.map((r, i) => ({
      seed: seeds[i]!,
      quality: r.quality,
      costPerQuery: r.costPerQuery,
      relative: r.relative,
      shares: r.shares,
    })),
  };
}

/** Seeds from "1..10" (a range) or "1,4,9" (a list). */
export function parseSeeds(text: string): number[] | null {
  const range = /^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$/.exec(text);
  if (range) {
    const from = Number(range[1]);
    const to = Number(range[2]);
    if (to < from || to - from >= 1_000) return null;
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  }
  const list = text.split(',').map((part) => part.trim());
  if (list.some((part) => !/^-?\d+$/.test(part))) return null;
  return list.map(Number);
}
