import { parseArgs } from 'node:util';
import { readReplayFile, type ReplayRow } from '../src/replay/replay-file.js';
import { parseSeeds, spreadOf, type Spread } from '../src/replay/replay-seeds.js';
import { selectHalf } from '../src/replay/row-split.js';
import { createRng, sampleBeta, type Rng } from '../src/router/random.js';

/**
 * npx tsx scripts/thompson-baseline.ts --data FILE [--seeds 1..10] [--lambdas 0.05,0.1,…] [--weight W]
 *                                      [--split-seed N] [--blocks B] [--permutations P] [--json]
 *
 * The "simple per-tag Thompson sampler" of issue 11, standalone, to check the issue's claim (~97.7% of
 * GPT-4-always quality at ~32% of its cost on one half of RouterBench, warm-started on the other):
 *  - per tag (the row's tags joined by '/') and model, a Beta(1 + w·Σq, 1 + w·Σ(1−q)) posterior from the
 *    training half's logged outcomes, and the mean logged cost;
 *  - the test half in file order: per row draw θ ~ Beta for each model the row has an outcome for, pick
 *    the max of θ − λ·ĉ/c_ref (ĉ the tag's running mean cost, c_ref the reference model's mean cost on
 *    the training half), observe the chosen model's logged outcome and cost, update that model's posterior
 *    and cost mean. Nothing else: no hierarchy, no forgetting, no sharpening.
 * Splits: rows at even / odd 0-based positions and the seeded random halves (src/replay/row-split.ts, as
 * the replay's `--rows` and `--split-seed`), each both ways round; test rows keep the file order.
 * Also, on each test half: the static per-tag frontier from the *training* half's means (what a warm start
 * can know) and the hindsight one from the *test* half's means (a bound on any per-tag router), each as
 * the upper hull of the λ sweep read at a few cost shares; and whether the rows carry within-tag order
 * (per-model success rates drifting along the file) that an adaptive learner could exploit: a χ² of
 * homogeneity over B consecutive blocks of each tag against within-tag permutations, and the hindsight
 * per-tag-and-block frontier against the same with the rows shuffled within each tag.
 * Quality and cost are shares of the reference model (the training half's best single model) on the test
 * rows, as the replay reports them: the mean over all test rows against the reference model's mean over
 * the test rows it has an outcome for.
 */

interface Split {
  readonly name: string;
  readonly train: readonly ReplayRow[];
  readonly test: readonly ReplayRow[];
}

interface Point {
  readonly lambda: number;
  readonly quality: number;
  readonly cost: number;
}

const tagOf = (row: ReplayRow) => (row.tags.length > 0 ? row.tags.join('/') : '*');
const mean = (values: readonly number[]) => values.reduce((s, v) => s + v, 0) / (values.length || 1);

/** Fisher–Yates with the repo's seeded generator. */
function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function splitsOf(rows: readonly ReplayRow[], splitSeed: number): Split[] {
  const [even, odd, a, b] = (['even', 'odd', 'random-a', 'random-b'] as const).map((half) => selectHalf(rows, half, splitSeed));
  return [
    { name: 'even → odd', train: even!, test: odd! },
    { name: 'odd → even', train: odd!, test: even! },
    { name: `random(${splitSeed}) A → B`, train: a!, test: b! },
    { name: `random(${splitSeed}) B → A`, train: b!, test: a! },
  ];
}

/** Per tag and model: outcomes, successes and spend of a set of rows. */
type Tally = Map<string, Map<string, { n: number; q: number; c: number }>>;
function tally(rows: readonly ReplayRow[]): Tally {
  const out: Tally = new Map();
  for (const row of rows) {
    const tag = tagOf(row);
    let byModel = out.get(tag);
    if (!byModel) out.set(tag, (byModel = new Map()));
    for (const [model, o] of row.outcomes) {
      const t = byModel.get(model) ?? { n: 0, q: 0, c: 0 };
      t.n++;
      t.q += o.quality;
      t.c += o.costUsd;
      byModel.set(model, t);
    }
  }
  return out;
}

interface Reference {
  readonly model: string;
  /** Mean cost of the reference model on the training half: the price scale of λ. */
  readonly trainCost: number;
  /** Its mean quality and cost over the test rows it has an outcome for: the shares' denominators. */
  readonly testQuality: number;
  readonly testCost: number;
}

function referenceOf(split: Split): Reference {
  const models = new Set(split.train.flatMap((r) => [...r.outcomes.keys()]));
  const of = (rows: readonly ReplayRow[], model: string) => {
    const outcomes = rows.map((r) => r.outcomes.get(model)).filter((o) => o !== undefined);
    return { quality: mean(outcomes.map((o) => o.quality)), cost: mean(outcomes.map((o) => o.costUsd)) };
  };
  const model = [...models].sort((x, y) => of(split.train, y).quality - of(split.train, x).quality)[0]!;
  const test = of(split.test, model);
  return { model, trainCost: of(split.train, model).cost, testQuality: test.quality, testCost: test.cost };
}

/**
 * One run of the per-tag Thompson sampler over the test rows. `weight`: pseudo-observations per logged
 * outcome (0: cold start from Beta(1,1), costs still seeded). `learn`: update on the test outcomes.
 */
function thompsonRun(
  split: Split,
  ref: Reference,
  options: { lambda: number; weight: number; learn: boolean; seed: number; order?: readonly ReplayRow[] },
): { quality: number; cost: number } {
  const prior = tally(split.train);
  const state = new Map<string, { a: number; b: number; n: number; c: number }>();
  const key = (tag: string, model: string) => `${tag}\u0000${model}`;
  const entry = (tag: string, model: string) => {
    let s = state.get(key(tag, model));
    if (!s) {
      const t = prior.get(tag)?.get(model);
      s = t
        ? { a: 1 + options.weight * t.q, b: 1 + options.weight * (t.n - t.q), n: t.n, c: t.c }
        : { a: 1, b: 1, n: 0, c: 0 };
      state.set(key(tag, model), s);
    }
    return s;
  };
  const rng = createRng(options.seed);
  const scale = ref.trainCost > 0 ? ref.trainCost : 1;
  let quality = 0;
  let cost = 0;
  const rows = options.order ?? split.test;
  for (const row of rows) {
    const tag = tagOf(row);
    let best: string | undefined;
    let bestScore = -Infinity;
    for (const model of row.outcomes.keys()) {
      const s = entry(tag, model);
      const meanCost = s.n > 0 ? s.c / s.n : 0; // never seen: free, so it gets tried
      const score = sampleBeta(rng, s.a, s.b) - (options.lambda * meanCost) / scale;
      if (score > bestScore) [best, bestScore] = [model, score];
    }
    const outcome = row.outcomes.get(best!)!;
    quality += outcome.quality;
    cost += outcome.costUsd;
    if (options.learn) {
      const s = entry(tag, best!);
      s.a += outcome.quality;
      s.b += 1 - outcome.quality;
      s.n++;
      s.c += outcome.costUsd;
    }
  }
  return { quality: quality / rows.length / ref.testQuality, cost: ref.testCost > 0 ? cost / rows.length / ref.testCost : 0 };
}

/**
 * Static routing per cell (a tag, or a tag and block) by the cell means of `means`, realised on the test
 * rows, for every λ; `cellOf` maps a test row to its cell.
 */
function staticSweep(
  test: readonly ReplayRow[],
  ref: Reference,
  means: Tally,
  cellOf: (row: ReplayRow, index: number) => string,
  lambdas: readonly number[],
): Point[] {
  const scale = ref.trainCost > 0 ? ref.trainCost : 1;
  return lambdas.map((lambda) => {
    const choice = new Map<string, string>();
    let quality = 0;
    let cost = 0;
    test.forEach((row, index) => {
      const cell = cellOf(row, index);
      const cellKey = `${cell}\u0000${[...row.outcomes.keys()].join(',')}`;
      let model = choice.get(cellKey);
      if (model === undefined) {
        const stats = means.get(cell);
        let bestScore = -Infinity;
        for (const m of row.outcomes.keys()) {
          const t = stats?.get(m);
          const score = t && t.n > 0 ? t.q / t.n - (lambda * t.c) / t.n / scale : -Infinity;
          if (score > bestScore || model === undefined) [model, bestScore] = [m, score];
        }
        choice.set(cellKey, model!);
      }
      const o = row.outcomes.get(model!)!;
      quality += o.quality;
      cost += o.costUsd;
    });
    return { lambda, quality: quality / test.length / ref.testQuality, cost: ref.testCost > 0 ? cost / test.length / ref.testCost : 0 };
  });
}

/** Upper concave hull of (cost, quality) points read at cost c (mixing two operating points). */
function frontierAt(points: readonly Point[], c: number): number {
  const sorted = [...points].sort((x, y) => x.cost - y.cost || y.quality - x.quality);
  const hull: Point[] = [];
  for (const p of sorted) {
    if (hull.length > 0 && p.quality <= hull.at(-1)!.quality) continue;
    while (hull.length >= 2) {
      const [a, b] = [hull.at(-2)!, hull.at(-1)!];
      if ((b.quality - a.quality) * (p.cost - a.cost) <= (p.quality - a.quality) * (b.cost - a.cost)) hull.pop();
      else break;
    }
    hull.push(p);
  }
  if (hull.length === 0 || c < hull[0]!.cost) return Number.NaN;
  for (let i = 1; i < hull.length; i++) {
    const [a, b] = [hull[i - 1]!, hull[i]!];
    if (c <= b.cost) return a.quality + ((b.quality - a.quality) * (c - a.cost)) / (b.cost - a.cost || 1);
  }
  return hull.at(-1)!.quality;
}

/** Per tag, the index of each test row among that tag's rows (file order) and the tag's row count. */
function positions(test: readonly ReplayRow[]): { index: number[]; count: Map<string, number> } {
  const count = new Map<string, number>();
  const index = test.map((row) => {
    const tag = tagOf(row);
    const i = count.get(tag) ?? 0;
    count.set(tag, i + 1);
    return i;
  });
  return { index, count };
}

/**
 * Within-tag order: Σ over tags and models of the χ² of homogeneity of the success rate over `blocks`
 * consecutive blocks of the tag's rows; p-value against within-tag permutations of the rows.
 */
function orderTest(rows: readonly ReplayRow[], blocks: number, permutations: number, seed: number) {
  const byTag = new Map<string, ReplayRow[]>();
  for (const row of rows) byTag.set(tagOf(row), [...(byTag.get(tagOf(row)) ?? []), row]);
  const chi2 = (tagRows: readonly ReplayRow[]) => {
    let total = 0;
    const models = new Set(tagRows.flatMap((r) => [...r.outcomes.keys()]));
    for (const model of models) {
      const n = new Array<number>(blocks).fill(0);
      const q = new Array<number>(blocks).fill(0);
      tagRows.forEach((row, i) => {
        const o = row.outcomes.get(model);
        if (!o) return;
        const b = Math.min(blocks - 1, Math.floor((i * blocks) / tagRows.length));
        n[b]!++;
        q[b]! += o.quality;
      });
      const N = n.reduce((s, v) => s + v, 0);
      const p = q.reduce((s, v) => s + v, 0) / N;
      if (!(p > 0 && p < 1)) continue;
      for (let b = 0; b < blocks; b++) if (n[b]! > 0) total += (q[b]! - n[b]! * p) ** 2 / (n[b]! * p * (1 - p));
    }
    return total;
  };
  const rng = createRng(seed);
  return [...byTag].map(([tag, tagRows]) => {
    const observed = chi2(tagRows);
    let atLeast = 0;
    let sum = 0;
    for (let i = 0; i < permutations; i++) {
      const value = chi2(shuffle(tagRows, rng));
      sum += value;
      if (value >= observed) atLeast++;
    }
    const models = new Set(tagRows.flatMap((r) => [...r.outcomes.keys()])).size;
    return { tag, rows: tagRows.length, blocks, chi2: observed, permutedMean: sum / permutations, df: models * (blocks - 1), p: (atLeast + 1) / (permutations + 1) };
  });
}

const COST_SHARES = [0.2, 0.25, 0.3, 0.32, 0.327, 0.35, 0.4, 0.5];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      seeds: { type: 'string', default: '1..10' },
      lambdas: { type: 'string' },
      weight: { type: 'string', default: '1' },
      'split-seed': { type: 'string', default: '1' },
      blocks: { type: 'string', default: '4' },
      permutations: { type: 'string', default: '200' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.data) throw new Error('--data FILE is required');
  const seeds = parseSeeds(values.seeds) ?? [];
  if (seeds.length === 0) throw new Error(`--seeds must be A..B or A,B,C, got "${values.seeds}"`);
  const lambdas = values.lambdas
    ? values.lambdas.split(',').map(Number)
    : [0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5];
  const weight = Number(values.weight);
  const blocks = Number(values.blocks);
  const permutations = Number(values.permutations);
  const splitSeed = Number(values['split-seed']);
  if (lambdas.some((l) => !(l >= 0))) throw new Error(`--lambdas must be non-negative numbers, got "${values.lambdas}"`);
  if (!(weight >= 0)) throw new Error(`--weight must be a non-negative number, got "${values.weight}"`);
  if (!(Number.isInteger(blocks) && blocks >= 2)) throw new Error(`--blocks must be an integer ≥ 2, got "${values.blocks}"`);
  if (!(Number.isInteger(permutations) && permutations >= 1)) throw new Error(`--permutations must be a positive integer`);
  if (!Number.isInteger(splitSeed)) throw new Error(`--split-seed must be an integer, got "${values['split-seed']}"`);
  const rows: ReplayRow[] = [];
  for await (const row of readReplayFile(values.data)) rows.push(row);
  const sweep = Array.from({ length: 401 }, (_, i) => i * 0.005);

  const reports = splitsOf(rows, splitSeed).map((split) => {
    const ref = referenceOf(split);
    const hindsight = staticSweep(split.test, ref, tally(split.test), tagOf, sweep);
    const thompson = (learn: boolean, order?: readonly ReplayRow[]) =>
      lambdas.map((lambda) => {
        const runs = seeds.map((seed) => thompsonRun(split, ref, { lambda, weight, learn, seed, order }));
        const cost = spreadOf(runs.map((r) => r.cost));
        // The hindsight per-tag frontier at the same mean cost: what any per-tag router could have had.
        return { lambda, quality: spreadOf(runs.map((r) => r.quality)), cost, bound: frontierAt(hindsight, cost.mean) };
      });
    // The same test rows shuffled within each tag's positions: what file order is worth to the sampler.
    const shuffledOrder = (() => {
      const rng = createRng(7);
      const byTag = new Map<string, ReplayRow[]>();
      for (const row of split.test) byTag.set(tagOf(row), [...(byTag.get(tagOf(row)) ?? []), row]);
      const queues = new Map([...byTag].map(([tag, r]) => [tag, shuffle(r, rng)]));
      return split.test.map((row) => queues.get(tagOf(row))!.pop()!);
    })();
    const { index, count } = positions(split.test);
    const blockOf = (row: ReplayRow, i: number) => `${tagOf(row)}#${Math.min(blocks - 1, Math.floor((index[i]! * blocks) / count.get(tagOf(row))!))}`;
    const blockTally = (test: readonly ReplayRow[]) => {
      const out: Tally = new Map();
      test.forEach((row, i) => {
        const one = tally([row]).get(tagOf(row))!;
        const cell = blockOf(row, i);
        const byModel = out.get(cell) ?? new Map();
        for (const [m, t] of one) {
          const sum = byModel.get(m) ?? { n: 0, q: 0, c: 0 };
          byModel.set(m, { n: sum.n + t.n, q: sum.q + t.q, c: sum.c + t.c });
        }
        out.set(cell, byModel);
      });
      return out;
    };
    const read = (points: readonly Point[]) => Object.fromEntries(COST_SHARES.map((c) => [String(c), frontierAt(points, c)]));
    const trainStatic = staticSweep(split.test, ref, tally(split.train), tagOf, sweep);
    const hindsightBlocks = staticSweep(split.test, ref, blockTally(split.test), blockOf, sweep);
    const shuffledBlocks = (() => {
      // Blocks of the within-tag shuffled order: the same number of cells, no order to find.
      const t = blockTally(shuffledOrder);
      return staticSweep(shuffledOrder, ref, t, blockOf, sweep);
    })();
    return {
      split: split.name,
      train: split.train.length,
      test: split.test.length,
      reference: ref.model,
      thompson: thompson(true),
      thompsonStatic: thompson(false),
      thompsonShuffled: thompson(true, shuffledOrder),
      frontier: {
        trainMeans: read(trainStatic),
        hindsight: read(hindsight),
        hindsightBlocks: read(hindsightBlocks),
        hindsightBlocksShuffled: read(shuffledBlocks),
      },
      trainStaticPoints: trainStatic.filter((_, i) => i % 10 === 0),
      order: orderTest(split.test, blocks, permutations, 3),
    };
  });

  if (values.json) {
    process.stdout.write(`${JSON.stringify({ seeds, weight, lambdas, blocks, reports })}\n`);
    return;
  }
  const pct = (v: number) => (Number.isNaN(v) ? '   —  ' : `${(100 * v).toFixed(1)}%`.padStart(6));
  const sp = (s: Spread) => `${pct(s.mean)} ± ${(100 * s.sd).toFixed(1)}`;
  const out: string[] = [`${values.data}: ${rows.length} rows; seeds ${seeds.join(',')}; logged weight ${weight}`];
  for (const r of reports) {
    out.push('', `${r.split}: train ${r.train} rows, test ${r.test} rows, reference ${r.reference}`);
    out.push('  λ      Thompson (learns) quality / cost  bound   static posterior (no update)     file order shuffled within tag');
    r.thompson.forEach((t, i) => {
      const s = r.thompsonStatic[i]!;
      const u = r.thompsonShuffled[i]!;
      out.push(
        `  ${t.lambda.toFixed(2).padEnd(5)}  ${sp(t.quality)} / ${sp(t.cost)}  ${pct(t.bound)}   ${sp(s.quality)} / ${sp(s.cost)}   ${sp(u.quality)} / ${sp(u.cost)}`,
      );
    });
    out.push(`  frontier (quality at cost ≤ ${COST_SHARES.map((c) => `${100 * c}%`).join(' / ')}):`);
    for (const [name, f] of Object.entries(r.frontier)) {
      out.push(`    ${name.padEnd(24)} ${COST_SHARES.map((c) => pct(f[String(c)]!)).join(' ')}`);
    }
    out.push(`  within-tag order, χ² over ${blocks} blocks (sum over models) vs within-tag permutations:`);
    for (const o of r.order) {
      out.push(`    ${o.tag.padEnd(16)} ${o.rows} rows  χ² ${o.chi2.toFixed(1)} (df ${o.df}, permuted mean ${o.permutedMean.toFixed(1)})  p = ${o.p.toFixed(3)}`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`thompson-baseline: ${(error as Error).message}\n`);
  process.exit(1);
});
