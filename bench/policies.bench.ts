import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/config/load-config.js';
import { defaultConfig } from '../src/config/default-config.js';
import { readReplayFile, type ReplayRow } from '../src/replay/replay-file.js';
import { runReplay } from '../src/replay/replay-runner.js';
import { createPolicy, createStats } from '../src/router/create-policy.js';
import { createRng } from '../src/router/random.js';
import { createRewardCalculator } from '../src/router/reward-calculator.js';

/**
 * Policies compared two ways in one process:
 * 1. replay of the shared routing logs (when present): quality, cost per query and regret against
 *    the per-prompt oracle, for thompson, ucb1 and egreedy, with tags and without, 3 seeds each;
 * 2. routing decisions per second (select + recordPull + update, 11 arms, 8 contexts) of each
 *    policy against a uniform random choice.
 */

const SHARED = new URL('../../shared/data/routing/', import.meta.url).pathname;
const FILES = ['routerbench-train', 'routellm-mmlu', 'routellm-gsm8k'];
const POLICIES = ['thompson', 'ucb1', 'egreedy'] as const;
const SEEDS = [1, 2, 3];

async function replayComparison(): Promise<void> {
  for (const name of FILES) {
    const path = join(SHARED, `${name}.jsonl.gz`);
    if (!existsSync(path)) {
      console.log(`policies: ${path} absent, replay comparison skipped`);
      continue;
    }
    const rows: ReplayRow[] = [];
    for await (const row of readReplayFile(path)) rows.push(row);
    for (const useTags of [true, false]) {
      for (const policy of POLICIES) {
        const config = parseConfig({ ...defaultConfig, bandit: { policy } });
        let quality = 0;
        let cost = 0;
        let report = runReplay(rows, { config, useTags, seed: SEEDS[0]! });
        for (const seed of SEEDS) {
          if (seed !== SEEDS[0]) report = runReplay(rows, { config, useTags, seed });
          quality += report.quality / SEEDS.length;
          cost += report.costPerQuery / SEEDS.length;
        }
        const best = report.bestSingle;
        const costShare = best.costPerQuery > 0 ? ` (${((100 * cost) / best.costPerQuery).toFixed(1)}% of best single)` : '';
        console.log(
          `policies: ${name} ${useTags ? 'tags   ' : 'no-tags'} ${policy.padEnd(8)} quality ${quality.toFixed(3)} ` +
            `(${((100 * quality) / best.quality).toFixed(1)}% of ${best.model}) cost/query $${cost.toExponential(2)}${costShare} ` +
            `regret vs oracle ${((report.oracle.quality - quality) * rows.length).toFixed(0)}`,
        );
      }
    }
  }
}

function decisionsPerSecond(): void {
  const arms = Array.from({ length: 11 }, (_, i) => `arm${i}`);
  const contexts = Array.from({ length: 8 }, (_, i) => `task${i % 4}/band${i % 2}`);
  const config = parseConfig(defaultConfig);
  const reward = createRewardCalculator(config.reward);
  const decisions = 100_000;

  const time = (label: string, decide: (i: number) => void): number => {
    for (let i = 0; i < 5_000; i++) decide(i); // warm-up
    const start = process.hrtime.bigint();
    for (let i = 0; i < decisions; i++) decide(i);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const rate = decisions / seconds;
    console.log(`policies: ${label.padEnd(15)} ${Math.round(rate).toLocaleString('en-US')} decisions/s`);
    return rate;
  };

  const rng = createRng(1);
  const baseline = time('uniform random', () => arms[Math.floor(rng() * arms.length)]);
  for (const name of POLICIES) {
    const stats = createStats(config.bandit, reward);
    const policy = createPolicy({ ...config.bandit, policy: name }, createRng(2), stats);
    const outcomes = createRng(3);
    const rate = time(name, (i) => {
      const context = contexts[i % contexts.length]!;
      const arm = policy.select(arms, context);
      stats.recordPull(arm, context);
      stats.recordOperational(arm, context, { costUsd: 0.001 * (1 + arms.indexOf(arm)), latencyMs: 200 });
      stats.update(arm, context, outcomes() < 0.5 ? 1 : 0, 1);
    });
    console.log(`policies: ${name} runs at ${(rate / baseline).toFixed(4)}x the uniform-random baseline`);
  }
}

export async function run(): Promise<void> {
  await replayComparison();
  decisionsPerSecond();
}
