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

function router(maxContexts: number) {
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
    policy: createPolicy(config.bandit, rng, stats),
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
