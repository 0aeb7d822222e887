import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createAdaptiveRouter } from '../../src/router/adaptive-router.js';
import { createContextClassifier } from '../../src/router/context-classifier.js';
import { createLocalEventLog } from '../../src/learning/local-event-log.js';
import { createLearningStack } from '../../src/learning/learning-stack.js';
import { createLogger } from '../../src/logger.js';
import { createPolicy } from '../../src/router/create-policy.js';
import { createRng } from '../../src/router/random.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';
import type { BanditPolicy } from '../../src/router/bandit.js';
import type { DecisionTrace } from '../../src/router/route-explanation.js';

function router(maxContexts: number, wrapPolicy: (policy: BanditPolicy) => BanditPolicy = (policy) => policy) {
  const config = parseConfig(defaultConfig);
  const reward = createRewardCalculator(config.reward);
  const rng = createRng(1);
  const { stats, learning } = createLearningStack({
    bandit: { ...config.bandit, maxContexts },
    arms: config.arms,
    reward,
    analyzer: { record: () => undefined, recordReward: () => undefined },
    instanceId: 'test',
    log: (state) => createLocalEventLog({ state, logger: createLogger('silent') }),
  });
  const router = createAdaptiveRouter({
    arms: config.arms,
    policy: wrapPolicy(createPolicy(config.bandit, rng, stats)),
    stats,
    learning,
    rng,
    reward,
    classify: createContextClassifier(config.bandit.classifier),
    maxContexts,
  });
  return { router, learning };
}

const ask = (tags: string[]) => ({ messages: [{ role: 'user' as const, content: 'hi' }], tags });

describe('adaptive router contexts', () => {
  it('routes in the tags\' context path while under the bound', () => {
    const { router: r } = router(10);
    expect(r.route(ask(['code', 'python'])).context).toBe('code/python');
    expect(r.route(ask(['math'])).context).toBe('math');
  });

  it('past the bound, a new context shares its nearest known ancestor, and known ones keep theirs', () => {
    const { router: r, learning } = router(2);
    expect(r.route(ask(['code', 'python'])).context).toBe('code/python');
    // code and code/python fill the bound: a new sibling falls back to its known parent...
    expect(r.route(ask(['code', 'rust'])).context).toBe('code');
    // ...and an unrelated path to the global context.
    expect(r.route(ask(['math'])).context).toBe('*');
    expect(r.route(ask(['code', 'python'])).context).toBe('code/python');
    for (let i = 0; i < 100; i++) {
      const { armId, context } = r.route(ask([`tag-${i}`]));
      void learning.observe({ type: 'pull', requestId: `r${i}`, armId, context });
    }
    expect(r.contexts().length).toBeLessThanOrEqual(2);
  });
});

describe('explained decisions', () => {
  /** The policy as built, with every trace it is given and every score it reports recorded. */
  function watched() {
    const traces: Array<DecisionTrace | undefined> = [];
    const draws = new Map<string, number>();
    const built = router(10, (policy) => ({
      name: policy.name,
      select(candidates, context, penaltyOf, trace) {
        traces.push(trace);
        const spy: DecisionTrace | undefined = trace && {
          scored(armId, alpha, beta, quality, penalty) {
            draws.set(armId, quality - penalty);
            trace.scored(armId, alpha, beta, quality, penalty);
          },
        };
        return policy.select(candidates, context, penaltyOf, spy);
      },
    }));
    return { ...built, traces, draws };
  }

  it('gives the policy no trace unless the request asks', () => {
    const { router: r, traces } = watched();
    const decision = r.route(ask(['code']));
    expect(traces).toEqual([undefined]);
    expect(decision).not.toHaveProperty('explanation');
  });

  it("reports the utilities the policy drew for that decision, and picks the highest", () => {
    const { router: r, draws } = watched();
    const decision = r.route({ ...ask(['code']), explain: true });
    const explanation = decision.explanation!;
    expect(explanation.candidates).toHaveLength(draws.size);
    for (const c of explanation.candidates) expect(c.sampledUtility).toBe(draws.get(c.armId));
    expect(explanation.candidates[0]!.armId).toBe(decision.armId);
    expect(explanation.selectionProbability).toBeGreaterThan(0);
  });
});
