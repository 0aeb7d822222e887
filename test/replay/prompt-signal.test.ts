import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/router/random.js';

const run = promisify(execFile);

interface SplitReport {
  split: string;
  frontier: { text: Record<string, number>; task: Record<string, number> };
  signal: { model: string; penalty: number | null; perTask: { task: string; auc: number }[] }[];
}

/**
 * One task, two models: 'dear' right 90% of the time at $0.01, 'cheap' at $0.0001. With `signal` the
 * prompt says whether cheap can answer (95% right when it holds the word "plain", 10% otherwise); without,
 * cheap is right half the time whatever the prompt. The other words are drawn from a shared vocabulary.
 */
function rows(n: number, seed: number, signal: boolean): string {
  const rng = createRng(seed);
  const vocabulary = Array.from({ length: 60 }, (_, i) => `word${i}`);
  return Array.from({ length: n }, (_, i) => {
    const plain = rng() < 0.5;
    const words = Array.from({ length: 8 }, () => vocabulary[Math.floor(rng() * vocabulary.length)]);
    if (signal) words.splice(Math.floor(rng() * words.length), 0, plain ? 'plain' : 'tricky');
    const cheapRight = rng() < (signal ? (plain ? 0.95 : 0.1) : 0.5);
    return JSON.stringify({
      id: `row-${i}`,
      prompt: words.join(' '),
      tags: ['qa'],
      outcomes: {
        dear: { quality: rng() < 0.9 ? 1 : 0, costUsd: 0.01 },
        cheap: { quality: cheapRight ? 1 : 0, costUsd: 0.0001 },
      },
    });
  }).join('\n');
}

describe('scripts/prompt-signal.ts (offline bound on per-prompt routing)', () => {
  let dir: string;
  const report = async (file: string): Promise<SplitReport[]> => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/prompt-signal.ts', '--data', file, '--folds', '3', '--json'], {
      cwd: new URL('../..', import.meta.url).pathname,
      maxBuffer: 64 * 1024 * 1024,
    });
    return JSON.parse(stdout) as SplitReport[];
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prompt-signal-'));
    await writeFile(join(dir, 'signal.jsonl'), rows(400, 11, true));
    await writeFile(join(dir, 'noise.jsonl'), rows(400, 12, false));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds a signal the prompt carries and routes on it, both ways round', async () => {
    const splits = await report(join(dir, 'signal.jsonl'));
    expect(splits.map((s) => s.split)).toEqual(['even → odd', 'odd → even']);
    for (const split of splits) {
      // Text router at half of dear's cost: cheap on plain prompts (0.95), dear on the rest (0.9),
      // ≈ 1.03 of dear-always; per task: a mix, (0.5·0.9 + 0.5·0.525)/0.9 ≈ 0.79. Each share over 200
      // test rows has sd ≈ √(0.25/200)/0.9 ≈ 0.04, so the 0.24 gap is ~4 sd of the difference above 0.1.
      expect(split.frontier.text['0.5']! - split.frontier.task['0.5']!).toBeGreaterThan(0.1);
      const cheap = split.signal.find((s) => s.model === 'cheap')!;
      expect(cheap.penalty).not.toBeNull(); // a finite penalty: CV kept the text (JSON writes ∞ as null)
      expect(cheap.perTask[0]!.auc).toBeGreaterThan(0.8); // ideal ≈ 0.93 (0.95 vs 0.1 right)
    }
  }, 120_000);

  it('gains nothing where the prompt says nothing', async () => {
    for (const split of await report(join(dir, 'noise.jsonl'))) {
      // Here any difference is luck: if the text router sends half of the 200 test rows elsewhere, the
      // quality difference has sd ≈ √(100 · 0.25)/200/0.9 ≈ 0.03; 0.1 is > 3 sd.
      expect(split.frontier.text['0.5']!).toBeLessThan(split.frontier.task['0.5']! + 0.1);
    }
  }, 120_000);
});
