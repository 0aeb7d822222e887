import type { AdaptiveRouter } from '../router/adaptive-router.js';
import { GLOBAL_CONTEXT } from '../router/bandit.js';
import type { BanditView } from './bandit-view.js';

/**
 * The adaptive router's figures in the analyzer's terms: every arm overall and in each context
 * seen. The one adapter between the two, used by the Prometheus scrape and the GraphQL analyzer.
 */
export function banditViewOf(router: AdaptiveRouter): BanditView {
  return {
    arms: [GLOBAL_CONTEXT, ...router.contexts()].flatMap((context) =>
      router.arms(context).map((arm) => ({
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
