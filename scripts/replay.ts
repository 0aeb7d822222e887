import { parseArgs } from 'node:util';
import { ConfigError, parseConfig } from '../src/config/load-config.js';
import { defaultConfig } from '../src/config/default-config.js';
import { readReplayFile, ReplayFormatError, type ReplayRow } from '../src/replay/replay-file.js';
import { runReplay, type ReplayReport } from '../src/replay/replay-runner.js';

/**
 * npm run replay -- --data FILE [--no-tags] [--cost-weight X] [--policy thompson|ucb1|egreedy]
 *                   [--seed N] [--json]
 * Replays logged outcomes through the router with the server's default configuration.
 */

const USAGE =
  'usage: npm run replay -- --data FILE [--no-tags] [--cost-weight X] [--policy thompson|ucb1|egreedy] [--seed N] [--json]';

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

const usd = (v: number) => `$${v.toExponential(2)}`;
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

function printReport(file: string, report: ReplayReport, useTags: boolean): void {
  const { bestSingle, random, oracle } = report;
  const lines = [
    `${file}: ${report.n} requests, policy ${report.policy}, ${useTags ? 'tags' : 'no tags (classifier)'}, ${report.contexts} contexts`,
    `router       quality ${report.quality.toFixed(3)}  cost/query ${usd(report.costPerQuery)}`,
    `best single  quality ${bestSingle.quality.toFixed(3)}  cost/query ${usd(bestSingle.costPerQuery)}  (${bestSingle.model})`,
    `random       quality ${random.quality.toFixed(3)}  cost/query ${usd(random.costPerQuery)}`,
    `oracle       quality ${oracle.quality.toFixed(3)}  cost/query ${usd(oracle.costPerQuery)}`,
    `vs best single: ${pct(report.quality / bestSingle.quality)} of its quality` +
      (bestSingle.costPerQuery > 0 ? ` at ${pct(report.costPerQuery / bestSingle.costPerQuery)} of its cost` : ''),
    'shares:',
    ...Object.entries(report.shares)
      .sort((a, b) => b[1] - a[1])
      .map(([model, share]) => `  ${pct(share).padStart(6)}  ${model}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        data: { type: 'string' },
        'no-tags': { type: 'boolean', default: false },
        'cost-weight': { type: 'string' },
        policy: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (!values.data) fail('--data is required');
  dataFile = values.data;
  const costWeight = parseNumber(values['cost-weight'], '--cost-weight');
  const seed = parseNumber(values.seed, '--seed') ?? 1;

  const config = parseConfig(
    {
      ...defaultConfig,
      ...(costWeight !== undefined ? { reward: { cost: costWeight } } : {}),
      ...(values.policy !== undefined ? { bandit: { policy: values.policy } } : {}),
    },
    'replay options',
  );
  const rows: ReplayRow[] = [];
  for await (const row of readReplayFile(values.data)) rows.push(row);
  const useTags = !values['no-tags'];
  const report = runReplay(rows, { config, useTags, seed });
  if (values.json) {
    const { n, quality, costPerQuery, shares, bestSingle, random, oracle } = report;
    process.stdout.write(`${JSON.stringify({ n, quality, costPerQuery, shares, bestSingle, random, oracle })}\n`);
  } else {
    printReport(values.data, report, useTags);
  }
}

/** The --data argument, for messages about it. */
let dataFile: string | undefined;

/** Expected failures are one line; anything else keeps its stack. */
function describeFailure(error: unknown): string {
  if (error instanceof ConfigError || error instanceof ReplayFormatError) return error.message;
  const { code, path } = error as NodeJS.ErrnoException;
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
    return `cannot read ${path ?? dataFile} (${code}): pass a replay log with --data, e.g. examples/replay-sample.jsonl`;
  }
  return (error as Error).stack ?? String(error);
}

main().catch((error: unknown) => {
  process.stderr.write(`replay: ${describeFailure(error)}\n`);
  process.exit(1);
});
