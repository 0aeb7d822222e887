import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../src/config/load-config.js';
import { defaultConfig } from '../src/config/default-config.js';
import { renderLearningCurve } from '../src/replay/learning-curve-chart.js';
import { readReplayFile, ReplayFormatError, type ReplayRow } from '../src/replay/replay-file.js';
import { parseSeeds, runReplaySeeds, type SeedsReport, type Spread } from '../src/replay/replay-seeds.js';
import { isRowHalf, ROW_HALVES, selectHalf, type RowHalf } from '../src/replay/row-split.js';

/**
 * npm run replay -- --data FILE [--rows HALF] [--warm-start FILE [--warm-start-rows HALF]] [--split-seed N]
 *                   [--warm-start-weight W] [--no-tags] [--cost-weight X] [--budget-share B] [--knowledge-gradient H] [--ids] [--policy thompson|ucb1|egreedy]
 *                   [--seed N | --seeds A..B] [--curve-every N] [--json]
 * Replays logged outcomes through the router with the server's default configuration. HALF: even, odd,
 * random-a or random-b (src/replay/row-split.ts; the random halves drawn with --split-seed, default 1).
 */

const USAGE =
  'usage: npm run replay -- --data FILE [--rows HALF] [--warm-start FILE [--warm-start-rows HALF] [--warm-start-weight W]] [--split-seed N]\n' +
  '         [--no-tags] [--cost-weight X] [--budget-share B] [--knowledge-gradient H] [--ids] [--policy thompson|ucb1|egreedy] [--seed N | --seeds A..B] [--curve-every N] [--json]\n' +
  `         HALF: ${ROW_HALVES.join('|')} (random halves drawn with --split-seed, default 1)`;

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) fail(`${flag} must be a number, got "${value}"`);
  return n;
}

function parseHalf(value: string | undefined, flag: string): RowHalf | undefined {
  if (value === undefined) return undefined;
  if (isRowHalf(value)) return value;
  fail(`${flag} must be one of ${ROW_HALVES.join(', ')}, got "${value}"`);
}

const usd = (v: number) => `$${v.toExponential(2)}`;
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const spread = (s: Spread, show: (v: number) => string) =>
  s.sd > 0 ? `${show(s.mean)} ± ${show(s.sd)} (${show(s.min)}–${show(s.max)})` : show(s.mean);

function printReport(file: string, report: SeedsReport, policy: string, useTags: boolean, warmStart: string | undefined): void {
  const { bestSingle, random, oracle } = report;
  const seeds = report.seeds.length === 1 ? `seed ${report.seeds[0]}` : `${report.seeds.length} seeds (${report.seeds.join(',')})`;
  const lines = [
    `${file}: ${report.n} requests, policy ${policy}, ${useTags ? 'tags' : 'no tags (classifier)'}, ${seeds}` +
      (warmStart ? `, warm start from ${warmStart}` : ', cold start'),
    `router       quality ${spread(report.quality, (v) => v.toFixed(3))}  cost/query ${spread(report.costPerQuery, usd)}`,
    `best single  quality ${bestSingle.quality.toFixed(3)}  cost/query ${usd(bestSingle.costPerQuery)}  (${bestSingle.model})`,
    `random       quality ${random.quality.toFixed(3)}  cost/query ${usd(random.costPerQuery)}`,
    `oracle       quality ${oracle.quality.toFixed(3)}  cost/query ${usd(oracle.costPerQuery)}`,
    `vs best single: quality ${spread(report.relative.quality, pct)}` +
      (report.relative.cost ? `, cost ${spread(report.relative.cost, pct)}` : ''),
    'shares (mean over seeds):',
    ...Object.keys(report.runs[0]!.shares)
      .map((model) => [model, report.runs.reduce((s, r) => s + r.shares[model]!, 0) / report.runs.length] as const)
      .sort((a, b) => b[1] - a[1])
      .map(([model, share]) => `  ${pct(share).padStart(6)}  ${model}`),
    '',
    'learning curve:',
    renderLearningCurve(report.curve),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function readRows(path: string, half: RowHalf | undefined, splitSeed: number): Promise<ReplayRow[]> {
  readingFile = path;
  const rows: ReplayRow[] = [];
  for await (const row of readReplayFile(path)) rows.push(row);
  return half ? selectHalf(rows, half, splitSeed) : rows;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        data: { type: 'string' },
        rows: { type: 'string' },
        'warm-start': { type: 'string' },
        'warm-start-rows': { type: 'string' },
        'warm-start-weight': { type: 'string' },
        'split-seed': { type: 'string' },
        'no-tags': { type: 'boolean', default: false },
        'cost-weight': { type: 'string' },
        'budget-share': { type: 'string' },
        'knowledge-gradient': { type: 'string' },
        ids: { type: 'boolean', default: false },
        policy: { type: 'string' },
        seed: { type: 'string' },
        seeds: { type: 'string' },
        'curve-every': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (!values.data) fail('--data is required');
  if (values.seed !== undefined && values.seeds !== undefined) fail('give --seed or --seeds, not both');
  const costWeight = parseNumber(values['cost-weight'], '--cost-weight');
  const budgetShare = parseNumber(values['budget-share'], '--budget-share');
  const knowledgeGradient = parseNumber(values['knowledge-gradient'], '--knowledge-gradient');
  const seeds =
    values.seeds !== undefined
      ? (parseSeeds(values.seeds) ?? fail(`--seeds must be a range A..B or a list A,B,C, got "${values.seeds}"`))
      : [parseNumber(values.seed, '--seed') ?? 1];
  const curveEvery = parseNumber(values['curve-every'], '--curve-every') ?? 100;
  if (!(Number.isInteger(curveEvery) && curveEvery > 0)) fail('--curve-every must be a positive integer');
  const warmStartWeight = parseNumber(values['warm-start-weight'], '--warm-start-weight') ?? 1;
  if (!(warmStartWeight > 0)) fail('--warm-start-weight must be positive');
  if (values['warm-start'] === undefined && (values['warm-start-rows'] ?? values['warm-start-weight']) !== undefined) {
    fail('--warm-start-rows and --warm-start-weight need --warm-start');
  }
  const keepRows = parseHalf(values.rows, '--rows');
  const keepWarmStartRows = parseHalf(values['warm-start-rows'], '--warm-start-rows');
  const splitSeed = parseNumber(values['split-seed'], '--split-seed') ?? 1;
  if (!Number.isInteger(splitSeed)) fail('--split-seed must be an integer');

  const config = parseConfig(
    {
      ...defaultConfig,
      reward: {
        ...(costWeight !== undefined ? { cost: costWeight } : {}),
        ...(budgetShare !== undefined ? { budgetShare } : {}),
      },
      bandit: {
        ...(values.policy !== undefined ? { policy: values.policy } : {}),
        ...(knowledgeGradient !== undefined ? { knowledgeGradient } : {}),
        ...(values.ids ? { informationDirected: true } : {}),
      },
    },
    'replay options',
  );
  const rows = await readRows(values.data, keepRows, splitSeed);
  if (rows.length === 0) fail(`${values.data} holds no rows${keepRows ? ' in that half' : ''}`);
  const warmStart = values['warm-start'] ? { rows: await readRows(values['warm-start'], keepWarmStartRows, splitSeed), weight: warmStartWeight } : undefined;
  const useTags = !values['no-tags'];
  const report = runReplaySeeds(rows, { config, useTags, warmStart, curveEvery }, seeds);
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ policy: config.bandit.policy, ...report })}\n`);
  } else {
    printReport(values.data, report, config.bandit.policy, useTags, values['warm-start']);
  }
}

/** The file being read, for messages about it. */
let readingFile: string | undefined;

/** Expected failures are one line; anything else keeps its stack. */
function describeFailure(error: unknown): string {
  if (error instanceof ConfigError || error instanceof ReplayFormatError) return error.message;
  const { code, path } = error as NodeJS.ErrnoException;
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
    return `cannot read ${path ?? readingFile} (${code}): pass a replay log with --data, e.g. examples/replay-sample.jsonl`;
  }
  return (error as Error).stack ?? String(error);
}

main().catch((error: unknown) => {
  process.stderr.write(`replay: ${describeFailure(error)}\n`);
  process.exit(1);
});
