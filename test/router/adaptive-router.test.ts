import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createAdaptiveRouter } from '../../src/router/adaptive-router.js';
import { createContextClassifier } from '../../src/router/context-classifier.js';
import { createPolicy } from '../../src/router/create-policy.js';
import { createRng } from '../../src/router/random.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';

function router(maxContexts: number) {
  const config = parseConfig(defaultConfig);
  const reward = createRewardCalculator(config.reward);
  return createAdaptiveRouter({
    arms: config.arms,
    policy: createPolicy(config.bandit, createRng(1), reward),
    reward,
    classify: createContextClassifier(config.bandit.classifier),
    maxContexts,
  });
}

const ask = (tags: string[]) => ({ messages: [{ role: 'user' as const, content: 'hi' }], tags });

describe('adaptive router contexts', () => {
  it('routes in the tags\' context path while under the bound', () => {
    const r = router(10);
    expect(r.route(ask(['code', 'python'])).context).toBe('code/python');
    expect(r.route(ask(['math'])).context).toBe('math');
  });

  it('past the bound, a new context shares its nearest known ancestor, and known ones keep theirs', () => {
    const r = router(2);
    expect(r.route(ask(['code', 'python'])).context).toBe('code/python');
    // code and code/python fill the bound: a new sibling falls back to its known parent...
    expect(r.route(ask(['code', 'rust'])).context).toBe('code');
    // ...and an unrelated path to the global context.
    expect(r.route(ask(['math'])).context).toBe('*');
    expect(r.route(ask(['code', 'python'])).context).toBe('code/python');
    for (let i = 0; i < 100; i++) r.recordAttempt(r.route(ask([`tag-${i}`])));
    expect(r.contexts().length).toBeLessThanOrEqual(2);
  });
});
