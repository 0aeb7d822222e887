import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { createRng } from '../../src/router/random.js';
import { readReplayFile, ReplayFormatError, type ReplayRow } from '../../src/replay/replay-file.js';
import { runReplay } from '../../src/replay/replay-runner.js';

const run = promisify(execFile);
// The CLI as `npm run replay` runs it (tsx), minus npx and tsx's launcher process: ~1 s a run.
const SHARED = new URL('../../../shared/data/routing/', import.meta.url).pathname;

/**
 * A synthetic log: 'strong' is right 90% of the time at $0.01, 'cheap' 85% at $0.0001 on 'easy'
 * prompts and 20% on 'hard' ones. With the default cost weight (0.1 of quality for the dearest
 * arm's price) the best policy is cheap on easy, strong on hard; 'wild' is always wrong. The
 * prompts differ in kind (chat vs arithmetic) so the classifier can tell them apart without tags.
 */
function syntheticRows(n: number, seed: number): object[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const hard = rng() < 0.5;
    return {
      id: `row-${i}`,
      prompt: hard ? `Solve: what is ${i} * 37 + 12?` : `Hello! How are you today, friend ${i}?`,
      tags: [hard ? 'hard' : 'easy'],
      ignored: { anything: true },
      outcomes: {
        strong: { quality: rng() < 0.9 ? 1 : 0, costUsd: 0.01, latencyMs: 900 },
        cheap: { quality: rng() < (hard ? 0.2 : 0.85) ? 1 : 0, costUsd: 0.0001 },
        ...(i % 10 === 0 ? {} : { wild: { quality: 0 } }),
      },
    };
  });
}

describe('replay', () => {
  let dir: string;
  let plainFile: string;
  let gzFile: string;
  let smallFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-replay-'));
    const text = `${syntheticRows(3_000, 5)
      .map((r) => JSON.stringify(r))
      .join('\n')}\n\n`;
    plainFile = join(dir, 'log.jsonl');
    smallFile = join(dir, 'small.jsonl');
    await writeFile(smallFile, text.split('\n').slice(0, 600).join('\n'));
    gzFile = join(dir, 'log.data');
    await writeFile(plainFile, text);
    await writeFile(gzFile, gzipSync(text));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const readAll = async (path: string) => {
    const rows: ReplayRow[] = [];
    for await (const row of readReplayFile(path)) rows.push(row);
    return rows;
  };

  it('reads plain and gzipped files alike, in order, ignoring unknown fields', async () => {
    const plain = await readAll(plainFile);
    const gz = await readAll(gzFile);
    expect(plain).toHaveLength(3_000);
    expect(gz).toEqual(plain);
    expect(plain[0]!.id).toBe('row-0');
    expect(plain[1]!.outcomes.get('wild')).toEqual({ quality: 0, costUsd: 0, latencyMs: 0 });
  });

  it('names the line of a malformed row', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"outcomes": {"m": {"quality": 1}}}\n{"outcomes": {"m": {"quality": 2}}}\n');
    await expect(readAll(bad)).rejects.toThrow(ReplayFormatError);
    await expect(readAll(bad)).rejects.toThrow(/line 2/);
  });

  it('learns cheap-on-easy, strong-on-hard through the router, with and without tags', async () => {
    const rows = await readAll(plainFile);
    const config = parseConfig(defaultConfig);
    // One run can be unlucky: about one seed in five settles on the strong model for the easy
    // prompts for a long while (cost ≥ 0.65 of the best single model's). The claim is about the
    // typical run, so it holds for the median of seven seeds (the median fails only if four
    // of seven are unlucky).
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    for (const useTags of [true, false]) {
      const reports = [1, 2, 3, 4, 5, 6, 7].map((seed) => runReplay(rows, { config, useTags, seed }));
      const report = reports[0]!;
      expect(report.n).toBe(3_000);
      expect(report.bestSingle.model).toBe('strong');
      // Uniform among each row's models: (0.9 + cheap's 0.525 + 0) / 3 on 90% of rows, /2 on the rest.
      expect(report.random.quality).toBeGreaterThan(0.4);
      expect(report.random.quality).toBeLessThan(0.55);
      expect(report.oracle.quality).toBeGreaterThan(report.bestSingle.quality);
      // The ideal mix scores ≈ (0.85 + 0.9) / 2 = 0.875 at ≈ $0.005; exploration costs a little.
      expect(median(reports.map((r) => r.quality))).toBeGreaterThan(0.8);
      expect(median(reports.map((r) => r.costPerQuery))).toBeLessThan(0.65 * report.bestSingle.costPerQuery);
      expect(median(reports.map((r) => r.shares.wild!))).toBeLessThan(0.03);
      for (const r of reports) expect(Object.values(r.shares).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    }
  }, 180_000);

  it('traces quality and cost per window against the best single model over the same rows', async () => {
    const rows = (await readAll(plainFile)).slice(0, 250);
    const report = runReplay(rows, { config: parseConfig(defaultConfig), useTags: true, seed: 2, curveEvery: 100 });
    expect(report.curve.map((p) => p.rows)).toEqual([100, 200, 250]);
    const weighted = (pick: (p: (typeof report.curve)[number]) => number) =>
      report.curve.reduce((s, p, i) => s + pick(p) * (p.rows - (report.curve[i - 1]?.rows ?? 0)), 0) / 250;
    expect(weighted((p) => p.quality)).toBeCloseTo(report.quality, 12);
    expect(weighted((p) => p.costPerQuery)).toBeCloseTo(report.costPerQuery, 12);
    expect(weighted((p) => p.bestSingle.quality)).toBeCloseTo(report.bestSingle.quality, 12);
    expect(report.relative.quality).toBeCloseTo(report.quality / report.bestSingle.quality, 12);
    expect(report.relative.cost).toBeCloseTo(report.costPerQuery / report.bestSingle.costPerQuery, 12);
  });

  it('is reproducible for a seed', async () => {
    const rows = (await readAll(plainFile)).slice(0, 500);
    const config = parseConfig(defaultConfig);
    const a = runReplay(rows, { config, useTags: true, seed: 9 });
    const b = runReplay(rows, { config, useTags: true, seed: 9 });
    expect(a).toEqual(b);
  });

  it('prints one JSON object from the CLI', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/replay.ts', '--data', gzFile, '--no-tags', '--policy', 'ucb1', '--cost-weight', '0.2', '--seed', '3', '--json'],
      { cwd: new URL('../..', import.meta.url).pathname },
    );
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(report).sort()).toEqual(
      ['bestSingle', 'costPerQuery', 'curve', 'n', 'oracle', 'policy', 'quality', 'random', 'relative', 'runs', 'seeds'].sort(),
    );
    expect(report).toMatchObject({ n: 3_000, policy: 'ucb1', seeds: [3], bestSingle: { model: 'strong' } });
    expect((report.bestSingle as { costPerQuery: number }).costPerQuery).toBeCloseTo(0.01, 9);
    expect(report.curve).toHaveLength(30);
  });

  it('reports the spread over seeds, shares of the best single model and a learning curve, from one run', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/replay.ts', '--data', smallFile, '--rows', 'odd', '--seeds', '1..3'], {
      cwd: new URL('../..', import.meta.url).pathname,
    });
    expect(stdout).toMatch(/300 requests, policy thompson, tags, 3 seeds \(1,2,3\), cold start/);
    expect(stdout).toMatch(/vs best single: quality \d+\.\d% ± \d+\.\d% \(.*\), cost \d+\.\d% ± /);
    const chart = stdout.slice(stdout.indexOf('learning curve:')).trimEnd().split('\n');
    // A header and one line per 100 rows, each with a quality bar and a cost bar.
    expect(chart).toHaveLength(2 + 3);
    expect(chart.at(-1)).toMatch(/^\s+300 +█+.* \d+\.\d% ± *\d+\.\d +█*.* \d+\.\d% ± *\d+\.\d$/);
  });

  it('replays a seeded random half, warm-started on the other half', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/replay.ts', '--data', smallFile, '--rows', 'random-b', '--warm-start', smallFile, '--warm-start-rows', 'random-a', '--split-seed', '2'],
      { cwd: new URL('../..', import.meta.url).pathname },
    );
    expect(stdout).toMatch(/300 requests, policy thompson, tags, seed 1, warm start from /);
    await expect(
      run(process.execPath, ['--import', 'tsx', 'scripts/replay.ts', '--data', smallFile, '--rows', 'thirds'], { cwd: new URL('../..', import.meta.url).pathname }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/--rows must be one of even, odd, random-a, random-b/) });
  });

  it('replays the sample the repo ships (what README runs) better than random, at less cost than the best single model', async () => {
    const rows = await readAll('examples/replay-sample.jsonl');
    expect(rows.length).toBeGreaterThanOrEqual(300);
    const report = runReplay(rows, { config: parseConfig(defaultConfig), useTags: true, seed: 1 });
    expect(report.quality).toBeGreaterThan(report.random.quality);
    expect(report.costPerQuery).toBeLessThan(report.bestSingle.costPerQuery);
  });

  it('stops with one line naming the file when --data cannot be read', async () => {
    const failure = await run(process.execPath, ['--import', 'tsx', 'scripts/replay.ts', '--data', 'no/such/log.jsonl.gz'], {
      cwd: new URL('../..', import.meta.url).pathname,
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1, stdout: '' });
    const { stderr } = failure as { stderr: string };
    expect(stderr.trimEnd().split('\n')).toEqual([
      'replay: cannot read no/such/log.jsonl.gz (ENOENT): pass a replay log with --data, e.g. examples/replay-sample.jsonl',
    ]);
  });

  it.skipIf(!existsSync(join(SHARED, 'routellm-gsm8k.jsonl.gz')))(
    'routes the shared GSM8K log (no costs) close to the stronger model',
    async () => {
      const rows = await readAll(join(SHARED, 'routellm-gsm8k.jsonl.gz'));
      const report = runReplay(rows, { config: parseConfig(defaultConfig), useTags: true, seed: 1 });
      // GPT-4 0.858, Mixtral 0.637: without costs the router should find GPT-4 within a few dozen rows.
      expect(report.costPerQuery).toBe(0);
      expect(report.quality).toBeGreaterThan(0.82);
    },
  );
});
