import { defaultConfig } from '../src/config/default-config.js';
import { parseConfig } from '../src/config/load-config.js';
import type { LearningEvent } from '../src/learning/learning-events.js';
import { decodeEvent } from '../src/learning/learning-format.js';
import { createLearningRules } from '../src/learning/learning-rules.js';
import { createLearningState } from '../src/learning/learning-state.js';
import { createStats } from '../src/router/create-policy.js';
import { createRewardCalculator } from '../src/router/reward-calculator.js';
import { median } from './bench-kit.js';

/**
 * What validating shared-log events costs the reader (src/learning/learning-format.ts): applying a
 * stream of serialised events (pull, outcome, feedback, as a chat makes them) as the Redis reader
 * does now (JSON.parse, decode, apply) against the baseline it replaced (JSON.parse, apply),
 * in interleaved rounds, both in this process.
 */

const EVENTS = 30_000;
const ROUNDS = 6;

function events(): string[] {
  const arms = ['fast', 'balanced', 'smart'];
  const out: string[] = [];
  for (let i = 0; out.length < EVENTS; i++) {
    const envelope = { origin: 'bench', at: 1_700_000_000_000 + i };
    const armId = arms[i % arms.length]!;
    const context = ['code', 'math', 'chat/smalltalk'][i % 3]!;
    const requestId = `req-${i}`;
    const batch: LearningEvent[] = [
      { type: 'pull', requestId, armId, context, id: `p${i}`, ...envelope },
      {
        type: 'outcome', kind: 'primary', requestId, armId, modelId: `m-${armId}`, context, costUsd: 0.0004, latencyMs: 420 + (i % 50),
        ttftMs: 80, promptTokens: 120, completionTokens: 300, error: false, id: `o${i}`, ...envelope,
      },
      {
        type: 'judgement', kind: 'feedback', requestId, client: null, shared: false,
        verdicts: [{ armId, context, score: i % 2, previous: null, costUsd: 0.0004, latencyMs: 420 }], id: `j${i}`, ...envelope,
      },
    ];
    for (const event of batch) out.push(JSON.stringify(event));
  }
  return out;
}

export async function run(): Promise<void> {
  const config = parseConfig(defaultConfig);
  const reward = createRewardCalculator(config.reward);
  const stream = events();
  const fresh = () =>
    createLearningState({ stats: createStats(config.bandit, reward, config.arms), rules: createLearningRules(reward), arms: config.arms, maxContexts: 100 });
  const baseline = () => {
    const state = fresh();
    const started = performance.now();
    for (const json of stream) state.apply(JSON.parse(json) as LearningEvent);
    return ((performance.now() - started) * 1_000) / stream.length;
  };
  const validated = () => {
    const state = fresh();
    const started = performance.now();
    for (const json of stream) {
      const decoded = decodeEvent(JSON.parse(json), '2');
      if (decoded.kind === 'ok') state.apply(decoded.value);
    }
    return ((performance.now() - started) * 1_000) / stream.length;
  };
  baseline();
  validated();
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    a.push(baseline());
    b.push(validated());
  }
  const spread = (values: number[]) => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;
  console.log(`learning-format: ${stream.length} events × ${ROUNDS} interleaved rounds (µs per event, median and range)`);
  console.log(`  parse + apply (before):            ${median(a).toFixed(2)} (${spread(a)})`);
  console.log(`  parse + decode + apply (now):      ${median(b).toFixed(2)} (${spread(b)})`);
  console.log(`  ratio now / before: ${(median(b) / median(a)).toFixed(2)}; decode adds ${(median(b) - median(a)).toFixed(2)} µs per event`);
}
