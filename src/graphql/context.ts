import type { WarmStarter } from '../learning/warm-start.js';
import type { BanditView } from '../analyzer/bandit-view.js';
import type { AnalyzerSnapshot, PerformanceAnalyzer } from '../analyzer/performance-analyzer.js';
import type { SharedFeed } from '../analyzer/shared-feed.js';
import type { ObjectiveTally } from '../analyzer/objective-figures.js';
import type { DisagreementView } from '../analyzer/feedback-disagreement.js';
import type { CacheManager } from '../cache/cache-manager.js';
import type { Principal } from '../auth/principal.js';
import type { ChatGate } from '../chat/chat-gate.js';
import type { ChatService } from '../chat/chat-service.js';
import type { ModelManager } from '../models/model-manager.js';
import type { AdaptiveRouter } from '../router/adaptive-router.js';
import type { ShadowRouter } from '../router/shadow-router.js';

/** The services resolvers call. Resolvers translate; these do the work. */
export interface GraphQLServices {
  readonly chat: ChatService;
  /** The chat service as a principal may use it: limits and request ownership. */
  readonly gate: ChatGate;
  readonly router: AdaptiveRouter;
  readonly models: ModelManager;
  readonly cache: CacheManager;
  readonly analyzer: PerformanceAnalyzer;
  /** Spend and quality per request objective (Analyzer.objectives). */
  readonly objectives: ObjectiveTally;
  /** The bandit's figures for the analyzer (bounded to the busiest contexts). */
  readonly banditView: () => BanditView;
  /** Analyzer snapshots computed once per interval for every `metrics` subscriber. */
  readonly metricsFeed: SharedFeed<AnalyzerSnapshot>;
  /** The analyzer snapshot shared for analyzer.sharedViewMs by every `analyzer` query. */
  readonly analyzerSnapshot: () => AnalyzerSnapshot;
  /** Arm id → probability of being best in a context, shared for analyzer.sharedViewMs. */
  readonly probabilityBest: (context: string) => ReadonlyMap<string, number>;
  /** Clients whose feedback disagrees with everyone else's: the view shared for an interval. */
  readonly disagreement: () => DisagreementView;
  readonly shadow: ShadowRouter;
  /** Teaches the router logged outcomes (the warmStart mutation). */
  readonly warmStart: WarmStarter;
}

export interface GraphQLContext {
  readonly services: GraphQLServices;
  /** Who is calling; the scopes each root field needs are checked before execution (src/auth/scopes.ts). */
  readonly principal: Principal;
  /** Who the caller is for listing its recent requests (see src/server/request-session.ts); null when unknown. */
  readonly session: string | null;
}
