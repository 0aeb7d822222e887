import { writeFileSync } from 'node:fs';
import { createRng, type Rng } from '../src/router/random.js';

/**
 * Writes examples/replay-sample.jsonl (`npx tsx scripts/make-replay-sample.ts`): a small synthetic log in the replay
 * format, so `npm run replay` runs in a fresh clone. Three made-up models: "mini" is cheap and fast
 * and good at small talk only, "mid" is fair at everything, "large" is strong and dear. Seeded, so
 * the committed file is reproducible.
 */

const ROWS = 400;
const OUT = new URL('../examples/replay-sample.jsonl', import.meta.url);

interface Model {
  readonly quality: Record<Task, number>;
  readonly costUsd: number;
  readonly latencyMs: number;
}
type Task = 'chat' | 'code' | 'math';

const MODELS: Record<string, Model> = {
  mini: { quality: { chat: 0.85, code: 0.35, math: 0.25 }, costUsd: 0.00012, latencyMs: 350 },
  mid: { quality: { chat: 0.87, code: 0.7, math: 0.55 }, costUsd: 0.0011, latencyMs: 900 },
  large: { quality: { chat: 0.9, code: 0.88, math: 0.9 }, costUsd: 0.0095, latencyMs: 2100 },
};

const SUBJECTS = ['a bakery', 'a chess club', 'a bike shop', 'a garden', 'a library', 'a podcast', 'a hiking trip'];
const FUNCTIONS = ['reverses a linked list', 'parses a CSV line', 'merges two sorted arrays', 'debounces a callback'];
const LANGUAGES = ['Python', 'TypeScript', 'Go', 'Rust'];

function prompt(task: Task, rng: Rng): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
  const n = () => 2 + Math.floor(rng() * 97);
  switch (task) {
    case 'chat':
      return `Hi! Can you suggest a friendly name for ${pick(SUBJECTS)}?`;
    case 'code':
      return `Write a ${pick(LANGUAGES)} function that ${pick(FUNCTIONS)}.`;
    case 'math':
      return `Solve step by step: what is ${n()} * ${n()} + ${n()}?`;
  }
}

const rng = createRng(2024);
const tasks: readonly Task[] = ['chat', 'code', 'math'];
const lines = Array.from({ length: ROWS }, (_, i) => {
  const task = tasks[Math.floor(rng() * tasks.length)]!;
  const outcomes = Object.fromEntries(
    Object.entries(MODELS).map(([name, model]) => [
      name,
      {
        quality: rng() < model.quality[task] ? 1 : 0,
        costUsd: Number((model.costUsd * (0.8 + 0.4 * rng())).toPrecision(3)),
        latencyMs: Math.round(model.latencyMs * (0.7 + 0.6 * rng())),
      },
    ]),
  );
  return JSON.stringify({ id: `sample-${i}`, prompt: prompt(task, rng), tags: [task], outcomes });
});
writeFileSync(OUT, `${lines.join('\n')}\n`);
process.stdout.write(`wrote ${ROWS} rows to ${OUT.pathname}\n`);
