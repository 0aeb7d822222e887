/**
 * The routing decision alone: µs per `route()` through `createAdaptiveRouter` (classifier,
 * candidate filtering, the policy's draw, the routing confidence) and bytes allocated per call,
 * for 1, 4, 11 and 64 arms, on statistics learnt from a few thousand simulated requests over
 * several contexts. Baseline, run alongside: a uniform random choice among the same arms (what
 * any router costs at least). Also printed: what the 256-draw Monte Carlo estimate of
 * P(best) that route() used before costs on the same statistics.
 *
 * Accuracy of the confidence: against a 200,000-draw Monte Carlo of the Beta posteriors (standard
 * error <= 0.0011), on the learnt statistics and on random posterior sets (2-12 arms, evidence
 * log-uniform up to 3,000 observations, penalties up to 0.1).
 *
 * Allocation per call: heap used before and after a batch of calls, started right after a full
 * GC and small enough (a few hundred KB at most) that no scavenge runs in between; a batch during
 * which a GC ran (seen by a PerformanceObserver) is measured again.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseConfig } from '../src/config/load-config.js';
import { createLearningStack } from '../src/learning/learning-stack.js';
import { createLocalEventLog } from '../src/learning/local-event-log.js';
import { createLogger } from '../src/logger.js';
import { createAdaptiveRouter, type RouteRequest } from '../src/router/adaptive-router.js';
import { estimateProbabilityBest } from '../src/router/bandit.js';
import { createContextClassifier } from '../src/router/context-classifier.js';
import { createPolicy } from '../src/router/create-policy.js';
import { createRng, sampleBeta } from '../src/router/random.js';
import { createRoutingConfidence } from '../src/router/routing-confidence.js';
import { createRewardCalculator } from '../src/router/reward-calculator.js';
import { median } from './bench-kit.js';

const ARMS = [1, 4, 11, 64];
const WARM_REQUESTS = 5_000;
const ROUNDS = 5;
const ROUND_MS = 150;
const ALLOCATION_CALLS = 200;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const PROMPTS = [
  'What is the capital of France?',
  'Write a python function that reverses a linked list.',
  'How many apples are left if I have 12 and eat 5?',
  'Summarize the key points of the following article: the economy grew by two percent last year.',
  'Translate into french: good morning, how are you?',
  'Which of these is a mammal?\nA) shark\nB) dolphin\nC) trout\nD) eel',
];
const REQUESTS: RouteRequest[] = PROMPTS.map((content) => ({ messages: [{ role: 'user', content }] }));

function routerWith(armCount: number) {
  const ids = Array.from({ length: armCount }, (_, i) => `arm-${i}`);
  const config = parseConfig({
    logLevel: 'silent',
    models: ids.map((id) => ({ id, provider: 'simulated' })),
    arms: ids.map((id) => ({ id, model: id })),
  });
  const reward = createRewardCalculator(config.reward);
  const { stats, learning } = createLearningStack({
    bandit: config.bandit,
    arms: config.arms,
    reward,
    analyzer: { record: () => undefined, recordReward: () => undefined },
    instanceId: 'bench',
    log: (state) => createLocalEventLog({ state, logger: createLogger('silent') }),
  });
  const rng = createRng(1);
  const policy = createPolicy(config.bandit, rng, stats);
  const router = createAdaptiveRouter({
    arms: config.arms,
    policy,
    stats,
    learning,
    rng,
    reward,
    classify: createContextClassifier(config.bandit.classifier),
    maxContexts: config.bandit.maxContexts,
  });
  // Learn: each arm has a fixed quality, cost and latency; every request gets feedback. Applied to
  // the statistics directly: this bench measures reading them, not the event path.
  const world = createRng(2);
  const quality = ids.map(() => 0.4 + 0.5 * world());
  for (let i = 0; i < WARM_REQUESTS; i++) {
    const { armId, context } = router.route(REQUESTS[i % REQUESTS.length]!);
    const arm = Number(armId.slice(4));
    stats.recordPull(armId, context);
    stats.recordOperational(armId, context, { costUsd: 0.0001 * (1 + arm), latencyMs: 100 + 10 * arm });
    stats.update(armId, context, world() < quality[arm]! ? 1 : 0, 1);
  }
  return { router, policy, stats, ids };
}

interface Timing {
  /** Median wall-clock µs per call. */
  readonly wall: number;
  /** Median CPU µs per call (user + system of this process): less inflated by other processes' load. */
  readonly cpu: number;
}

/** Median over ROUNDS batches, each of about ROUND_MS of calls. */
function microsPerCall(call: (i: number) => unknown): Timing {
  let calls = 1;
  const warmUntil = performance.now() + ROUND_MS;
  while (performance.now() < warmUntil) {
    for (let i = 0; i < calls; i++) call(i);
    calls *= 2;
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) call(i);
    wall.push(Number(process.hrtime.bigint() - start) / 1e3 / calls);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / calls);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

let gcRuns = 0;
const observer = new PerformanceObserver((list) => {
  gcRuns += list.getEntries().length;
});

/** Bytes allocated per call: median over batches without a GC in between. */
function bytesPerCall(call: (i: number) => unknown, calls = ALLOCATION_CALLS): number {
  const samples: number[] = [];
  for (let attempt = 0; attempt < 20 && samples.length < 5; attempt++) {
    gc();
    const runsBefore = gcRuns;
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < calls; i++) call(i);
    const after = process.memoryUsage().heapUsed;
    // GC entries are delivered asynchronously; a batch this short that saw a GC shows a negative or odd delta too.
    if (gcRuns === runsBefore && after >= before) samples.push((after - before) / calls);
  }
  return median(samples);
}

const fmt = (t: Timing, digits = 2) => `${t.wall.toFixed(digits)} / ${t.cpu.toFixed(digits)}`;

export async function run(): Promise<void> {
  observer.observe({ entryTypes: ['gc'] });
  // Calibration: how many bytes the heap figure shows for a call that allocates nothing.
  const floor = bytesPerCall(() => 0);
  console.log(
    `routing: ${ROUNDS} rounds of ~${ROUND_MS} ms per figure (median); µs as wall / CPU; ` +
      `allocation floor ${floor.toFixed(1)} B/call (subtracted)`,
  );
  console.log(
    'routing: arms | route() µs | route() B/call | select() B/call | uniform random µs (baseline) | route ÷ baseline (CPU) | Monte Carlo P(best), 256 draws, µs',
  );
  for (const armCount of ARMS) {
    const { router, policy, stats, ids } = routerWith(armCount);
    const route = (i: number) => router.route(REQUESTS[i % REQUESTS.length]!);
    const rng = createRng(3);
    const uniform = () => ids[Math.floor(rng() * ids.length)];
    const routeTime = microsPerCall(route);
    const uniformTime = microsPerCall(uniform);
    const bytes = Math.max(0, bytesPerCall(route) - floor);
    const { context } = router.route(REQUESTS[0]!);
    const selectBytes = Math.max(0, bytesPerCall(() => policy.select(ids, context)) - floor);
    // What route() added for its confidence before: a 256-draw Monte Carlo estimate over the same candidates.
    const mcRng = createRng(4);
    const monteCarlo = microsPerCall(() => estimateProbabilityBest(mcRng, stats, ids, context, 256));
    console.log(
      `routing: ${String(armCount).padStart(4)} | ${fmt(routeTime)} | ${bytes.toFixed(0)} | ${selectBytes.toFixed(0)} | ` +
        `${fmt(uniformTime, 3)} | ${(routeTime.cpu / uniformTime.cpu).toFixed(0)} | ${fmt(monteCarlo, 0)}`,
    );
  }
  observer.disconnect();
  confidenceAccuracy();
}

const REFERENCE_DRAWS = 200_000;

interface ArmPosterior {
  readonly alpha: number;
  readonly beta: number;
  readonly penalty: number;
}

function monteCarloBest(arms: readonly ArmPosterior[], rng: () => number): Float64Array {
  const wins = new Float64Array(arms.length);
  for (let d = 0; d < REFERENCE_DRAWS; d++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let j = 0; j < arms.length; j++) {
      const value = sampleBeta(rng, arms[j]!.alpha, arms[j]!.beta) - arms[j]!.penalty;
      if (value > bestValue) {
        bestValue = value;
        best = j;
      }
    }
    wins[best]! += 1;
  }
  return wins.map((w) => w / REFERENCE_DRAWS);
}

function analyticBest(arms: readonly ArmPosterior[]): Float64Array {
  const confidence = createRoutingConfidence();
  const means = Float64Array.from(arms, (a) => a.alpha / (a.alpha + a.beta) - a.penalty);
  const sds = Float64Array.from(arms, (a) => {
    const n = a.alpha + a.beta;
    return Math.sqrt((a.alpha * a.beta) / (n * n * (n + 1)));
  });
  return Float64Array.from(arms, (_, i) => confidence.probabilityBest(i, arms.length, means, sds));
}

function confidenceAccuracy(): void {
  const rng = createRng(5);
  // Learnt statistics of the bench's routers, every arm of the first request's context.
  for (const armCount of [4, 11]) {
    const { router, stats, ids } = routerWith(armCount);
    const { context } = router.route(REQUESTS[0]!);
    const penalties = stats.penalties();
    const arms = ids.map((id) => ({ ...stats.posterior(id, context), penalty: penalties(id, context) }));
    const reference = monteCarloBest(arms, rng);
    const analytic = analyticBest(arms);
    const errors = ids.map((_, i) => Math.abs(analytic[i]! - reference[i]!));
    console.log(
      `routing: confidence vs ${REFERENCE_DRAWS.toLocaleString('en-US')}-draw Monte Carlo, learnt statistics, ${armCount} arms: ` +
        `largest P(best) ${Math.max(...reference).toFixed(3)}, max error ${Math.max(...errors).toFixed(4)}`,
    );
  }
  // Random posterior sets, split by the least evidence among their arms.
  const bands = [
    { label: 'every arm >= 20 observations', errors: [] as number[] },
    { label: 'some arm < 20 observations', errors: [] as number[] },
  ];
  for (let set = 0; set < 60; set++) {
    const count = 2 + Math.floor(rng() * 11);
    let least = Infinity;
    const arms = Array.from({ length: count }, () => {
      const n = Math.floor(Math.exp(rng() * Math.log(3_000)));
      least = Math.min(least, n);
      const q = 0.3 + 0.6 * rng();
      return { alpha: 1 + q * n, beta: 1 + (1 - q) * n, penalty: rng() < 0.5 ? 0 : 0.1 * rng() };
    });
    const reference = monteCarloBest(arms, rng);
    const analytic = analyticBest(arms);
    const band = bands[least >= 20 ? 0 : 1]!;
    for (let i = 0; i < count; i++) band.errors.push(Math.abs(analytic[i]! - reference[i]!));
  }
  for (const { label, errors } of bands) {
    errors.sort((a, b) => a - b);
    const at = (q: number) => errors[Math.min(errors.length - 1, Math.floor(q * errors.length))]!;
    console.log(
      `routing: confidence vs Monte Carlo, random posteriors, ${label}: ${errors.length} arms, ` +
        `median error ${at(0.5).toFixed(4)}, p95 ${at(0.95).toFixed(4)}, max ${errors[errors.length - 1]!.toFixed(4)}`,
    );
  }
}
