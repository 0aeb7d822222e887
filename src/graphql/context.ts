import type { BanditView } from '../analyzer/bandit-view.js';
import type { PerformanceAnalyzer } from '../analyzer/performance-analyzer.js';
import type { CacheManager } from '../cache/cache-manager.js';
import type { ChatService } from '../chat/chat-service.js';
import type { ModelManager } from '../models/model-manager.js';
import type { AdaptiveRouter } from '../router/adaptive-router.js';
import type { ShadowRouter } from '../router/shadow-router.js';

/** The services resolvers call. Resolvers translate; these do the work. */
export interface GraphQLServices {
  readonly chat: ChatService;
  readonly router: AdaptiveRouter;
  readonly models: ModelManager;
  readonly cache: CacheManager;
  readonly analyzer: PerformanceAnalyzer;
  /** The bandit's figures for the analyzer (bounded to the busiest contexts). */
  readonly banditView: () => BanditView;
  readonly shadow: ShadowRouter;
}

export interface GraphQLContext {
  readonly services: GraphQLServices;
  /** Whether the caller may run admin mutations (see `server.adminTokenEnv`). */
  readonly admin: boolean;
  /** Who the caller is for request ownership (see src/server/request-owner.ts); null when unknown. */
  readonly owner: string | null;
}
