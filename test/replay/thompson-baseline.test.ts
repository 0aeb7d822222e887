import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/router/random.js';

const run = promisify(execFile);

interface Spread {
  mean: number;
  sd: number;
}
interface SplitReport {
  split: string;
  thompson: { lambda: number; quality: Spread; cost: Spread; bound: number }[];
  frontier: Record<'trainMeans' | 'hindsight' | 'hindsightBlocks' | 'hindsightBlocksShuffled', Record<string, number>>;
  order: { tag: string; p: number }[];
}

/**
 * Two models, 'dear' ($0.01, right 90% of the time) and 'cheap' ($0.001). Stationary: on tag 'easy' cheap
 * is right 88% of the time, on 'hard' 30%, rows of both tags mixed at random. Drifting: one tag, cheap right
 * 95% of the time in the first half of the file and 20% in the second.
 */
function rows(n: number, seed: number, drift: boolean): string {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => {
    const easy = rng() < 0.5;
    const cheapRate = drift ? (i < n / 2 ? 0.95 : 0.2) : easy ? 0.88 : 0.3;
    return JSON.stringify({
      id: `row-${i}`,
      prompt: `question ${i}`,
      tags: [drift ? 'qa' : easy ? 'easy' : 'hard'],
      outcomes: {
        dear: { quality: rng() < 0.9 ? 1 : 0, costUsd: 0.01 },
        cheap: { quality: rng() < cheapRate ? 1 : 0, costUsd: 0.001 },
      },
    });
  }).join('\n');
}

describe('scripts/thompson-baseline.ts (the per-tag Thompson sampler of issue 11)', () => {
  let dir: string;
  const report = async (file: string, ...flags: string[]): Promise<SplitReport[]> => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/thompson-baseline.ts', '--data', file, '--seeds', '1..10', '--permutations', '100', '--json', ...flags],
      { cwd: new URL('../..', import.meta.url).pathname, maxBuffer: 64 * 1024 * 1024 },
    );
    return (JSON.parse(stdout) as { reports: SplitReport[] }).reports;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'thompson-baseline-'));
    await writeFile(join(dir, 'stationary.jsonl'), rows(800, 21, false));
    await writeFile(join(dir, 'drift.jsonl'), rows(800, 22, true));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('routes per tag to the hindsight frontier on stationary rows, and finds no order in them', async () => {
    const splits = await report(join(dir, 'stationary.jsonl'), '--lambdas', '0.3');
    expect(splits.map((s) => s.split)).toEqual(['even → odd', 'odd → even', 'random(1) A → B', 'random(1) B → A']);
    for (const split of splits) {
      // λ = 0.3: easy → cheap (utility 0.88 − 0.03 against 0.9 − 0.3), hard → dear (0.6 against 0.27):
      // quality ≈ (0.88 + 0.9)/2/0.9 ≈ 0.99 at ≈ (0.001 + 0.01)/2/0.01 = 0.55 of dear's cost. With 200
      // logged rows per tag and arm the gaps (≥ 0.25) are > 7 sd, so exploration is rare; 0.03 ≈ 1.5 sd of
      // one seed's quality share over 400 rows (√(0.1/400)/0.9 ≈ 0.018), of which the mean of 10 has less.
      const [t] = split.thompson;
      expect(t!.cost.mean).toBeGreaterThan(0.5);
      expect(t!.cost.mean).toBeLessThan(0.6);
      expect(t!.quality.mean).toBeGreaterThan(t!.bound - 0.03);
      // The training half's means pick the same per-tag choices as the test half's.
      expect(Math.abs(split.frontier.trainMeans['0.5']! - split.frontier.hindsight['0.5']!)).toBeLessThan(0.03);
      // No order: the permutation p-value is uniform; 0.01 is a 1% false alarm per tag (seeded: fixed).
      for (const o of split.order) expect(o.p).toBeGreaterThan(0.01);
    }
  }, 120_000);

  it('finds order planted along the file, and what it is worth in hindsight', async () => {
    for (const split of await report(join(dir, 'drift.jsonl'), '--lambdas', '0.1')) {
      // χ² of cheap's 0.95 → 0.2 over 4 blocks of ~100 rows: ≈ 140 on 2 models' 6 df; no permutation of
      // 100 reaches it, so p = 1/101.
      expect(split.order[0]!.p).toBeLessThan(0.02);
      // At half of dear's cost: per block, cheap in the first half (0.95) and dear in most of the second
      // (0.9), ≈ 0.98 of dear-always; per tag, a mix (≈ 0.80); the shuffled blocks have no order to use
      // (≈ 0.80 plus what 4 cells overfit, ≈ √(0.25/100)/0.9 ≈ 0.06 at most per block).
      expect(split.frontier.hindsightBlocks['0.5']! - split.frontier.hindsight['0.5']!).toBeGreaterThan(0.15);
      expect(split.frontier.hindsightBlocks['0.5']! - split.frontier.hindsightBlocksShuffled['0.5']!).toBeGreaterThan(0.1);
    }
  }, 120_000);
});
