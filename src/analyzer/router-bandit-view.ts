import type { AdaptiveRouter } from '../router/adaptive-router.js';
import { GLOBAL_CONTEXT } from '../router/bandit.js';
import type { BanditView } from './bandit-view.js';

/** Draws per context for P(best) in dashboards: standard error at most 0.5/√500 ≈ 0.022. */
const VIEW_DRAWS = 500;

/**
 * The adaptive router's figures in the analyzer's terms: every arm overall and in the busiest
 * `maxContexts` contexts (clients create contexts with their tags, so the view must be bounded for
 * a scrape to stay cheap). The one adapter between the two, used by the Prometheus scrape and the
 * GraphQL analyzer.
 */
export function banditViewOf(router: AdaptiveRouter, maxContexts: number): BanditView {
  const busiest = router
    .contexts()
    .map((context) => ({ context, pulls: router.pullsIn(context) }))
    .sort((a, b) => b.pulls - a.pulls)
    .slice(0, maxContexts)
    .map((entry) => entry.context);
  return {
    arms: [GLOBAL_CONTEXT, ...busiest].flatMap((context) =>
      router.arms(context, VIEW_DRAWS).map((arm) => ({
        armId: arm.id,
        modelId: arm.modelId,
        context,
        pulls: arm.pulls,
        posteriorMean: arm.posterior.mean,
        lower95: arm.posterior.lower95,
        upper95: arm.posterior.upper95,
        probabilityBest: arm.probabilityBest,
      })),
    ),
  };
}
