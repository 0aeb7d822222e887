import { parseArgs } from 'node:util';
import { readReplayFile, type ReplayRow } from '../src/replay/replay-file.js';

/**
 * npx tsx scripts/prompt-signal.ts --data FILE [--folds K] [--bits B] [--pooled] [--json]
 *
 * Offline bound on per-prompt routing from the prompt's text (issue 11). For each half of the file
 * (rows at even / odd 0-based positions) as training data and the other as test:
 *  - per model, an L2-regularised logistic regression of P(quality | prompt) on hashed word uni/bigrams
 *    and character 3–5-grams (TF-IDF fitted on the training half) plus length/structure features, with
 *    the logit of the model's per-task mean (the tags) as a fixed offset: with infinite regularisation it
 *    is exactly the per-task router, so any gain is the text's. The regularisation (∞ included) is chosen
 *    per model by K-fold cross-validated log loss inside the training half only;
 *  - the test half is routed per row by expected utility p̂ − λ·ĉ/ĉ_ref (ĉ: the model's mean cost on
 *    the task in the training half, ĉ_ref: the reference model's mean cost), λ swept, and the same for the
 *    per-task means (the baseline), and by the margin rule "cheapest model within m of the best p̂";
 *  - it prints each curve as shares of the reference model (the training half's best single model, GPT-4
 *    on RouterBench) on the test rows, quality at a few cost shares (upper frontier, interpolated), and how
 *    well each model's predictor ranks prompts within a task (AUC, log-loss gain over the per-task mean).
 * The λ sweep is read on the test half, so the curves are upper bounds for both routers alike.
 * --pooled: one regression over all models instead (a shared block of text weights plus one per model).
 * Files without costs (RouteLLM) count a call to the reference model as cost 1, any other as 0.
 */

interface Split {
  readonly name: string;
  readonly train: readonly ReplayRow[];
  readonly test: readonly ReplayRow[];
}

type SparseRow = { readonly index: Int32Array; readonly value: Float64Array };

// ---------- features ----------

const HASH_SEED = 0x811c9dc5;
function fnv1a(text: string): number {
  let h = HASH_SEED;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Logged prompts often hold `\n` escaped; read them as line breaks, as the router's classifier does. */
const promptText = (row: ReplayRow) => row.prompt.replace(/\\n/g, '\n');

function hashedCounts(text: string, bits: number): Map<number, number> {
  const mask = (1 << bits) - 1;
  const counts = new Map<number, number>();
  const add = (key: string) => {
    const h = fnv1a(key) & mask;
    counts.set(h, (counts.get(h) ?? 0) + 1);
  };
  const words = text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    add(`w ${w}`);
    if (i > 0) add(`b ${words[i - 1]} ${w}`);
    const padded = ` ${w} `;
    for (let n = 3; n <= 5; n++) for (let j = 0; j + n <= padded.length; j++) add(`c ${padded.slice(j, j + n)}`);
  }
  return counts;
}

/** Length and structure of the prompt: log sizes, shares of digits / capitals / punctuation, questions. */
function structureFeatures(text: string): number[] {
  const chars = text.length || 1;
  const count = (re: RegExp) => (text.match(re) ?? []).length;
  const lines = text.split('\n');
  const lastBlock = text.split(/\n\s*\n/).at(-1) ?? text;
  return [
    Math.log1p(text.length),
    Math.log1p(count(/\S+/g)),
    Math.log1p(lines.length),
    Math.log1p(lastBlock.length),
    count(/\p{N}/gu) / chars,
    count(/\p{Lu}/gu) / chars,
    count(/[^\p{L}\p{N}\s]/gu) / chars,
    Math.log1p(count(/\?/g)),
    Math.log1p(count(/^\s*[A-Ha-h][).:]\s/gm)),
  ];
}

/** TF-IDF on the training rows (idf = ln(N/df): a feature every prompt shares, e.g. few-shot examples, weighs 0). */
class Featurizer {
  private readonly column = new Map<number, number>();
  private readonly idf: number[] = [];
  private readonly mean: number[];
  private readonly sd: number[];
  readonly dims: number;

  constructor(train: readonly ReplayRow[], private readonly bits: number) {
    const df = new Map<number, number>();
    for (const row of train) for (const h of hashedCounts(promptText(row), bits).keys()) df.set(h, (df.get(h) ?? 0) + 1);
    const n = train.length;
    for (const [h, d] of df) {
      if (d < 2 || d === n) continue;
      this.column.set(h, this.idf.length);
      this.idf.push(Math.log(n / d));
    }
    const dense = train.map((row) => structureFeatures(promptText(row)));
    const k = dense[0]!.length;
    this.mean = Array.from({ length: k }, (_, j) => dense.reduce((s, f) => s + f[j]!, 0) / n);
    this.sd = Array.from({ length: k }, (_, j) =>
      Math.sqrt(dense.reduce((s, f) => s + (f[j]! - this.mean[j]!) ** 2, 0) / n) || 1,
    );
    this.dims = this.idf.length + k;
  }

  features(row: ReplayRow): SparseRow {
    const text = promptText(row);
    const entries: [number, number][] = [];
    let norm = 0;
    for (const [h, c] of hashedCounts(text, this.bits)) {
      const col = this.column.get(h);
      if (col === undefined) continue;
      const v = (1 + Math.log(c)) * this.idf[col]!;
      entries.push([col, v]);
      norm += v * v;
    }
    norm = Math.sqrt(norm) || 1;
    for (const e of entries) e[1] /= norm;
    // Standardised structure features at a tenth of the text vector's unit norm each: the shared L2
    // penalty then treats them as one more group of weak features rather than as the main signal.
    structureFeatures(text).forEach((v, j) => entries.push([this.idf.length + j, (0.1 * (v - this.mean[j]!)) / this.sd[j]!]));
    entries.sort((a, b) => a[0] - b[0]);
    return { index: Int32Array.from(entries, (e) => e[0]), value: Float64Array.from(entries, (e) => e[1]) };
  }
}

// ---------- logistic regression with an offset, L2, L-BFGS ----------

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
const logit = (p: number) => Math.log(p / (1 - p));

interface Fit {
  readonly w: Float64Array;
  readonly bias: number;
}

function dot(w: Float64Array, x: SparseRow): number {
  let s = 0;
  for (let i = 0; i < x.index.length; i++) s += w[x.index[i]!]! * x.value[i]!;
  return s;
}

/** Minimises Σ softplus(z) − y·z + penalty/2·(|w|² + b²), z = offset + b + w·x, by L-BFGS (m = 10). */
function fitLogistic(xs: readonly SparseRow[], ys: readonly number[], offsets: readonly number[], dims: number, penalty: number): Fit {
  const n = dims + 1; // last coordinate: bias
  const evaluate = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    const b = theta[dims]!;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      const z = offsets[i]! + b + dot(theta, x);
      loss += softplus(z) - ys[i]! * z;
      const r = sigmoid(z) - ys[i]!;
      for (let j = 0; j < x.index.length; j++) grad[x.index[j]!]! += r * x.value[j]!;
      grad[dims]! += r;
    }
    for (let j = 0; j < n; j++) {
      loss += 0.5 * penalty * theta[j]! ** 2;
      grad[j]! += penalty * theta[j]!;
    }
    return loss;
  };
  const theta = new Float64Array(n);
  const grad = new Float64Array(n);
  let f = evaluate(theta, grad);
  const history: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  const direction = new Float64Array(n);
  const next = new Float64Array(n);
  const nextGrad = new Float64Array(n);
  for (let iter = 0; iter < 200; iter++) {
    // two-loop recursion
    direction.set(grad);
    const alphas: number[] = [];
    for (let k = history.length - 1; k >= 0; k--) {
      const h = history[k]!;
      let a = 0;
      for (let j = 0; j < n; j++) a += h.s[j]! * direction[j]!;
      a *= h.rho;
      alphas[k] = a;
      for (let j = 0; j < n; j++) direction[j]! -= a * h.y[j]!;
    }
    if (history.length > 0) {
      const h = history.at(-1)!;
      let yy = 0;
      for (let j = 0; j < n; j++) yy += h.y[j]! ** 2;
      const gamma = 1 / (h.rho * yy);
      for (let j = 0; j < n; j++) direction[j]! *= gamma;
    }
    for (let k = 0; k < history.length; k++) {
      const h = history[k]!;
      let b = 0;
      for (let j = 0; j < n; j++) b += h.y[j]! * direction[j]!;
      b *= h.rho;
      for (let j = 0; j < n; j++) direction[j]! += h.s[j]! * (alphas[k]! - b);
    }
    let slope = 0;
    for (let j = 0; j < n; j++) slope -= grad[j]! * direction[j]!;
    if (slope >= 0) {
      history.length = 0;
      direction.set(grad);
      slope = 0;
      for (let j = 0; j < n; j++) slope -= grad[j]! ** 2;
    }
    let step = history.length === 0 ? 1 / Math.max(1, Math.sqrt(-slope)) : 1;
    let fNext = Infinity;
    for (let tries = 0; tries < 30; tries++) {
      for (let j = 0; j < n; j++) next[j] = theta[j]! - step * direction[j]!;
      fNext = evaluate(next, nextGrad);
      if (fNext <= f + 1e-4 * step * slope) break;
      step /= 2;
    }
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    let sy = 0;
    for (let j = 0; j < n; j++) {
      s[j] = next[j]! - theta[j]!;
      y[j] = nextGrad[j]! - grad[j]!;
      sy += s[j]! * y[j]!;
    }
    theta.set(next);
    grad.set(nextGrad);
    const improvement = f - fNext;
    f = fNext;
    if (sy > 1e-12) {
      history.push({ s, y, rho: 1 / sy });
      if (history.length > 10) history.shift();
    }
    if (improvement < 1e-7 * Math.max(1, Math.abs(f))) break;
  }
  return { w: theta.subarray(0, dims), bias: theta[dims]! };
}

// ---------- per-task means (the baseline, and the offset) ----------

const taskOf = (row: ReplayRow) => row.tags.join('/');

/** Per task and model: smoothed mean quality (toward the model's overall mean, 2 pseudo-rows) and mean cost. */
function taskMeans(rows: readonly ReplayRow[], models: readonly string[]) {
  const overall = new Map<string, { q: number; n: number }>();
  const perTask = new Map<string, { q: number; c: number; n: number }>();
  for (const row of rows) {
    for (const [model, o] of row.outcomes) {
      const a = overall.get(model) ?? { q: 0, n: 0 };
      a.q += o.quality;
      a.n++;
      overall.set(model, a);
      const key = `${taskOf(row)}\u0000${model}`;
      const t = perTask.get(key) ?? { q: 0, c: 0, n: 0 };
      t.q += o.quality;
      t.c += o.costUsd;
      t.n++;
      perTask.set(key, t);
    }
  }
  const prior = (model: string) => {
    const a = overall.get(model);
    return a ? (a.q + 1) / (a.n + 2) : 0.5;
  };
  return {
    quality(task: string, model: string): number {
      const t = perTask.get(`${task}\u0000${model}`);
      const m = prior(model);
      const q = t ? (t.q + 2 * m) / (t.n + 2) : m;
      return Math.min(1 - 1e-3, Math.max(1e-3, q));
    },
    cost(task: string, model: string): number | undefined {
      const t = perTask.get(`${task}\u0000${model}`);
      return t && t.n > 0 ? t.c / t.n : undefined;
    },
    models,
  };
}

// ---------- cross-validated predictor ----------

const PENALTIES = [0.03, 0.1, 0.3, 1, 3, 10, Infinity];

interface ModelPredictor {
  readonly penalty: number;
  readonly cvLogLoss: Map<number, number>;
  predict(row: ReplayRow, x: SparseRow): number;
}

function logLoss(p: number, y: number): number {
  const q = Math.min(1 - 1e-9, Math.max(1e-9, p));
  return -(y * Math.log(q) + (1 - y) * Math.log(1 - q));
}

function trainPredictors(train: readonly ReplayRow[], models: readonly string[], folds: number, bits: number): Map<string, ModelPredictor> {
  const featurizer = new Featurizer(train, bits);
  const xs = train.map((row) => featurizer.features(row));
  const out = new Map<string, ModelPredictor>();
  // Folds interleaved by position, so each holds every task in the file's order.
  const foldOf = (i: number) => i % folds;
  const foldMeans = Array.from({ length: folds }, (_, k) => taskMeans(train.filter((_, i) => foldOf(i) !== k), models));
  const fullMeans = taskMeans(train, models);
  for (const model of models) {
    const idx = train.flatMap((row, i) => (row.outcomes.has(model) ? [i] : []));
    const cvLogLoss = new Map<number, number>();
    for (const penalty of PENALTIES) {
      let loss = 0;
      for (let k = 0; k < folds; k++) {
        const fitIdx = idx.filter((i) => foldOf(i) !== k);
        const heldIdx = idx.filter((i) => foldOf(i) === k);
        const means = foldMeans[k]!;
        const off = (i: number) => logit(means.quality(taskOf(train[i]!), model));
        const y = (i: number) => train[i]!.outcomes.get(model)!.quality;
        if (penalty === Infinity) {
          for (const i of heldIdx) loss += logLoss(sigmoid(off(i)), y(i));
          continue;
        }
        const fit = fitLogistic(fitIdx.map((i) => xs[i]!), fitIdx.map(y), fitIdx.map(off), featurizer.dims, penalty);
        for (const i of heldIdx) loss += logLoss(sigmoid(off(i) + fit.bias + dot(fit.w, xs[i]!)), y(i));
      }
      cvLogLoss.set(penalty, loss / idx.length);
    }
    const penalty = [...cvLogLoss].sort((a, b) => a[1] - b[1])[0]![0];
    const off = (row: ReplayRow) => logit(fullMeans.quality(taskOf(row), model));
    const fit =
      penalty === Infinity
        ? undefined
        : fitLogistic(idx.map((i) => xs[i]!), idx.map((i) => train[i]!.outcomes.get(model)!.quality), idx.map((i) => off(train[i]!)), featurizer.dims, penalty);
    out.set(model, {
      penalty,
      cvLogLoss,
      predict: (row, x) => sigmoid(off(row) + (fit ? fit.bias + dot(fit.w, x) : 0)),
    });
  }
  const featurize = (row: ReplayRow) => featurizer.features(row);
  return Object.assign(out, { featurize });
}

/**
 * One regression over every (row, model) pair: the prompt's features twice, in a block shared by all
 * models (a difficulty the models have in common, learnt from 11× the rows) and in the model's own block
 * (how it differs), one penalty chosen by CV like the per-model fits.
 */
function trainPooled(train: readonly ReplayRow[], models: readonly string[], folds: number, bits: number): Map<string, ModelPredictor> {
  const featurizer = new Featurizer(train, bits);
  const xs = train.map((row) => featurizer.features(row));
  const d = featurizer.dims;
  const widen = (x: SparseRow, m: number): SparseRow => {
    const index = new Int32Array(2 * x.index.length);
    const value = new Float64Array(2 * x.index.length);
    index.set(x.index);
    value.set(x.value);
    for (let i = 0; i < x.index.length; i++) {
      index[x.index.length + i] = (m + 1) * d + x.index[i]!;
      value[x.index.length + i] = x.value[i]!;
    }
    return { index, value };
  };
  const pairs = train.flatMap((row, i) => models.flatMap((model, m) => (row.outcomes.has(model) ? [{ i, m, model }] : [])));
  const wide = pairs.map((p) => widen(xs[p.i]!, p.m));
  const foldOf = (i: number) => i % folds;
  const dims = (models.length + 1) * d;
  const cvLogLoss = new Map<number, number>();
  for (const penalty of PENALTIES) {
    let loss = 0;
    for (let k = 0; k < folds; k++) {
      const means = taskMeans(train.filter((_, i) => foldOf(i) !== k), models);
      const off = (j: number) => logit(means.quality(taskOf(train[pairs[j]!.i]!), pairs[j]!.model));
      const y = (j: number) => train[pairs[j]!.i]!.outcomes.get(pairs[j]!.model)!.quality;
      const fitIdx = pairs.flatMap((p, j) => (foldOf(p.i) !== k ? [j] : []));
      const heldIdx = pairs.flatMap((p, j) => (foldOf(p.i) === k ? [j] : []));
      if (penalty === Infinity) {
        for (const j of heldIdx) loss += logLoss(sigmoid(off(j)), y(j));
        continue;
      }
      const fit = fitLogistic(fitIdx.map((j) => wide[j]!), fitIdx.map(y), fitIdx.map(off), dims, penalty);
      for (const j of heldIdx) loss += logLoss(sigmoid(off(j) + fit.bias + dot(fit.w, wide[j]!)), y(j));
    }
    cvLogLoss.set(penalty, loss / pairs.length);
  }
  const penalty = [...cvLogLoss].sort((a, b) => a[1] - b[1])[0]![0];
  const fullMeans = taskMeans(train, models);
  const offOf = (row: ReplayRow, model: string) => logit(fullMeans.quality(taskOf(row), model));
  const fit =
    penalty === Infinity
      ? undefined
      : fitLogistic(
          wide,
          pairs.map((p) => train[p.i]!.outcomes.get(p.model)!.quality),
          pairs.map((p) => offOf(train[p.i]!, p.model)),
          dims,
          penalty,
        );
  const out = new Map<string, ModelPredictor>();
  models.forEach((model, m) =>
    out.set(model, {
      penalty,
      cvLogLoss,
      predict: (row, x) => sigmoid(offOf(row, model) + (fit ? fit.bias + dot(fit.w, widen(x, m)) : 0)),
    }),
  );
  return Object.assign(out, { featurize: (row: ReplayRow) => featurizer.features(row) });
}

// ---------- routing and curves ----------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Point {
  readonly knob: number;
  readonly quality: number;
  readonly cost: number;
}

function auc(scores: readonly number[], labels: readonly number[]): number {
  const pairs = scores.map((s, i) => [s, labels[i]!] as const).sort((a, b) => a[0] - b[0]);
  let rank = 0;
  let positives = 0;
  let sumRanks = 0;
  for (let i = 0; i < pairs.length; ) {
    let j = i;
    while (j < pairs.length && pairs[j]![0] === pairs[i]![0]) j++;
    const avg = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (pairs[k]![1] >= 0.5) {
      positives++;
      sumRanks += avg;
    }
    rank = j;
    i = j;
  }
  const negatives = rank - positives;
  return positives && negatives ? (sumRanks - (positives * (positives + 1)) / 2) / (positives * negatives) : NaN;
}

/** Upper frontier of the points, linearly interpolated: the best quality at cost share ≤ c. */
function qualityAt(points: readonly Point[], c: number): number {
  const sorted = [...points].sort((a, b) => a.cost - b.cost);
  const hull: Point[] = [];
  for (const p of sorted) if (hull.length === 0 || p.quality > hull.at(-1)!.quality) hull.push(p);
  if (hull.length === 0 || c < hull[0]!.cost) return NaN;
  for (let i = 0; i + 1 < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[i + 1]!;
    if (c <= b.cost) return a.quality + ((b.quality - a.quality) * (c - a.cost)) / (b.cost - a.cost || 1);
  }
  return hull.at(-1)!.quality;
}

function costFor(points: readonly Point[], q: number): number {
  const reach = points.filter((p) => p.quality >= q);
  return reach.length ? Math.min(...reach.map((p) => p.cost)) : NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      folds: { type: 'string', default: '5' },
      bits: { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
      pooled: { type: 'boolean', default: false },
    },
  });
  if (!values.data) throw new Error('--data FILE is required');
  const folds = Number(values.folds);
  const bits = Number(values.bits);
  const all: ReplayRow[] = [];
  for await (const row of readReplayFile(values.data)) all.push(row);
  const even = all.filter((_, i) => i % 2 === 0);
  const odd = all.filter((_, i) => i % 2 === 1);
  const splits: Split[] = [
    { name: 'even → odd', train: even, test: odd },
    { name: 'odd → even', train: odd, test: even },
  ];
  const hasCost = all.some((row) => [...row.outcomes.values()].some((o) => o.costUsd > 0));
  const report: unknown[] = [];
  for (const split of splits) {
    const started = performance.now();
    const models = [...new Set(split.train.flatMap((row) => [...row.outcomes.keys()]))].sort();
    const overallQuality = (model: string) => {
      const rows = split.train.filter((row) => row.outcomes.has(model));
      return rows.reduce((s, row) => s + row.outcomes.get(model)!.quality, 0) / Math.max(1, rows.length);
    };
    const reference = [...models].sort((a, b) => overallQuality(b) - overallQuality(a))[0]!;
    const means = taskMeans(split.train, models);
    const costOf = (model: string, usd: number) => (hasCost ? usd : model === reference ? 1 : 0);
    const refCost = (() => {
      const rows = split.train.filter((row) => row.outcomes.has(reference));
      return rows.reduce((s, row) => s + costOf(reference, row.outcomes.get(reference)!.costUsd), 0) / rows.length;
    })();
    const predictors = (values.pooled ? trainPooled : trainPredictors)(split.train, models, folds, bits) as Map<string, ModelPredictor> & {
      featurize: (row: ReplayRow) => SparseRow;
    };
    const test = split.test.filter((row) => row.outcomes.has(reference));
    const refQuality = test.reduce((s, row) => s + row.outcomes.get(reference)!.quality, 0);
    const refSpend = test.reduce((s, row) => s + costOf(reference, row.outcomes.get(reference)!.costUsd), 0);
    // Per test row and candidate: text prediction, per-task mean, expected cost, realised quality and cost.
    const table = test.map((row) => {
      const x = predictors.featurize(row);
      const task = taskOf(row);
      return [...row.outcomes].map(([model, o]) => ({
        model,
        text: predictors.has(model) ? predictors.get(model)!.predict(row, x) : 0,
        task: predictors.has(model) ? means.quality(task, model) : 0,
        expectedCost: costOf(model, means.cost(task, model) ?? o.costUsd) / refCost,
        quality: o.quality,
        cost: costOf(model, o.costUsd),
      }));
    });
    type Cell = (typeof table)[number][number];
    const route = (pick: (cells: Cell[]) => Cell) => {
      let q = 0;
      let c = 0;
      for (const cells of table) {
        const chosen = pick(cells);
        q += chosen.quality;
        c += chosen.cost;
      }
      return { quality: q / refQuality, cost: c / refSpend };
    };
    const byUtility = (key: 'text' | 'task', lambda: number) => (cells: Cell[]) =>
      cells.reduce((best, cell) => (cell[key] - lambda * cell.expectedCost > best[key] - lambda * best.expectedCost ? cell : best));
    const byMargin = (key: 'text' | 'task', margin: number) => (cells: Cell[]) => {
      const top = Math.max(...cells.map((cell) => cell[key]));
      return cells
        .filter((cell) => cell[key] >= top - margin)
        .reduce((best, cell) => (cell.expectedCost < best.expectedCost ? cell : best));
    };
    const lambdas = Array.from({ length: 121 }, (_, i) => (i === 0 ? 0 : 0.002 * 1.06 ** (i - 1)));
    const margins = Array.from({ length: 61 }, (_, i) => i * 0.005);
    const curve = (key: 'text' | 'task') => lambdas.map((knob) => ({ knob, ...route(byUtility(key, knob)) }));
    const marginCurve = (key: 'text' | 'task') => margins.map((knob) => ({ knob, ...route(byMargin(key, knob)) }));
    const text = curve('text');
    const task = curve('task');
    const textMargin = marginCurve('text');
    const taskMargin = marginCurve('task');

    // How well each model's text predictor ranks prompts within a task, against the per-task mean.
    const tasks = [...new Set(test.map(taskOf))].sort();
    const signal = models.map((model) => {
      const perTask = tasks.map((t) => {
        const cells = table.flatMap((cells, i) => (taskOf(test[i]!) === t ? cells.filter((c) => c.model === model) : []));
        const gain =
          cells.reduce((s, c) => s + logLoss(c.task, c.quality) - logLoss(c.text, c.quality), 0) /
          Math.max(1, cells.reduce((s, c) => s + logLoss(c.task, c.quality), 0));
        return { task: t, auc: auc(cells.map((c) => c.text), cells.map((c) => c.quality)), logLossGain: gain };
      });
      return { model, penalty: predictors.get(model)!.penalty, perTask };
    });

    // How much per-prompt information the target needs: a predictor that knows the true outcome of a
    // (row, model) with probability ρ and the per-task mean otherwise, at the same sweeps.
    const partial = [0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1].map((rho) => {
      const draws = [1, 2, 3].map((seed) => {
        const random = mulberry32(seed);
        const known = table.map((cells) => cells.map(() => random() < rho));
        let i = 0;
        const informed = (cells: Cell[]) => {
          const k = known[i++ % known.length]!;
          return cells.map((cell, j) => ({ ...cell, text: k[j] ? cell.quality : cell.task }));
        };
        const sweep = (pick: (cells: Cell[]) => Cell) => {
          i = 0;
          let q = 0;
          let c = 0;
          for (const cells of table) {
            const chosen = pick(informed(cells));
            q += chosen.quality;
            c += chosen.cost;
          }
          return { quality: q / refQuality, cost: c / refSpend };
        };
        const pts = [
          ...lambdas.map((knob) => ({ knob, ...sweep(byUtility('text', knob)) })),
          ...margins.map((knob) => ({ knob, ...sweep(byMargin('text', knob)) })),
        ];
        i = 0;
        // Within-task AUC per model, averaged over the models (ranking prompts, as for the text predictor).
        const aucs = tasks.map((t) => {
          const perModel = models.map((model) => {
            const scores: number[] = [];
            const labels: number[] = [];
            table.forEach((cells, r) => {
              if (taskOf(test[r]!) !== t) return;
              cells.forEach((cell, j) => {
                if (cell.model !== model) return;
                scores.push(known[r]![j] ? cell.quality : cell.task);
                labels.push(cell.quality);
              });
            });
            return auc(scores, labels);
          });
          const defined = perModel.filter((a) => !Number.isNaN(a));
          return defined.reduce((s, a) => s + a, 0) / defined.length;
        });
        return { at25: qualityAt(pts, 0.25), auc: aucs };
      });
      const meanOf = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      return {
        rho,
        qualityAt25: meanOf(draws.map((d) => d.at25)),
        auc: Object.fromEntries(tasks.map((t, k) => [t, meanOf(draws.map((d) => d.auc[k]!))])),
      };
    });

    const shares = [0.2, 0.25, 0.3, 0.327, 0.35, 0.4, 0.5];
    const frontier = (pts: Point[]) => Object.fromEntries(shares.map((c) => [c, qualityAt(pts, c)]));
    const textAll = [...text, ...textMargin];
    const taskAll = [...task, ...taskMargin];
    const entry = {
      split: split.name,
      reference,
      testRows: test.length,
      seconds: (performance.now() - started) / 1000,
      signal,
      frontier: { text: frontier(textAll), task: frontier(taskAll) },
      costFor975: { text: costFor(textAll, 0.975), task: costFor(taskAll, 0.975) },
      partial,
      curves: { text, task, textMargin, taskMargin },
    };
    report.push(entry);
    if (values.json) continue;
    const pct = (v: number) => (Number.isNaN(v) ? '   —  ' : `${(100 * v).toFixed(1).padStart(5)}%`);
    // Many tasks (MMLU's subjects) are shown as one mean weighted by the task's test rows.
    const taskRows = tasks.map((t) => test.filter((row) => taskOf(row) === t).length);
    const byTask = <T,>(values: readonly T[], show: (v: T) => string, average: (vs: readonly T[], weights: readonly number[]) => T) =>
      tasks.length <= 4
        ? values.map((v, k) => `${tasks[k]}: ${show(v)}`).join('  ')
        : `${tasks.length} tasks (row-weighted): ${show(average(values, taskRows))}`;
    const weighted = (vs: readonly number[], ws: readonly number[]) => {
      let sum = 0;
      let weight = 0;
      vs.forEach((v, k) => {
        if (Number.isNaN(v)) return;
        sum += v * ws[k]!;
        weight += ws[k]!;
      });
      return sum / weight;
    };
    type Signal = { auc: number; logLossGain: number };
    const showSignal = (t: Signal) => `${t.auc.toFixed(3)} / ${(100 * t.logLossGain).toFixed(1).padStart(5)}%`;
    const averageSignal = (vs: readonly Signal[], ws: readonly number[]): Signal => ({
      auc: weighted(vs.map((v) => v.auc), ws),
      logLossGain: weighted(vs.map((v) => v.logLossGain), ws),
    });
    const lines = [
      `\n${values.data}: train ${split.name.split(' → ')[0]} rows (${split.train.length}), test ${split.name.split(' → ')[1]} rows (${test.length}); reference ${reference}; ${folds}-fold CV; ${entry.seconds.toFixed(0)} s`,
      hasCost ? 'cost: USD as a share of the reference model on every test row' : 'cost: share of calls to the reference model (no costs in the file)',
      'per model: CV-chosen L2 penalty (∞ = text not used), within-task AUC of the text predictor on the test half / log-loss gain over the per-task mean',
      ...signal.map(
        (s) =>
          `  ${s.model.padEnd(36)} ${String(s.penalty).padStart(5)}  ` +
          byTask(s.perTask, showSignal, averageSignal),
      ),
      `  ${'mean over models'.padEnd(36)}        ` +
        byTask(
          tasks.map((_, k) => averageSignal(signal.map((m) => m.perTask[k]!), signal.map(() => 1))),
          showSignal,
          averageSignal,
        ),
      'quality share at cost share ≤ c (upper frontier of the λ and margin sweeps):',
      `  c        ${shares.map((c) => pct(c)).join(' ')}`,
      `  text     ${shares.map((c) => pct(entry.frontier.text[c]!)).join(' ')}`,
      `  per task ${shares.map((c) => pct(entry.frontier.task[c]!)).join(' ')}`,
      `cost share for 97.5%: text ${pct(entry.costFor975.text)}, per task ${pct(entry.costFor975.task)}`,
      'partial oracle (true outcome known with probability ρ per row and model, else the per-task mean):',
      '  ρ (= its log-loss gain over the per-task mean), quality share at cost share ≤ 25%, within-task AUC (mean over models)',
      ...partial.map(
        (p) =>
          `  ρ ${p.rho.toFixed(3)}  ${pct(p.qualityAt25)}  ` +
          byTask(Object.values(p.auc), (a) => a.toFixed(3), weighted),
      ),
      'utility sweep (λ: text quality / cost | per task quality / cost):',
      ...text
        .filter((_, i) => i % 8 === 0)
        .map((p, j) => `  λ ${p.knob.toFixed(3).padStart(6)}  ${pct(p.quality)} / ${pct(p.cost)}  |  ${pct(task[j * 8]!.quality)} / ${pct(task[j * 8]!.cost)}`),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
