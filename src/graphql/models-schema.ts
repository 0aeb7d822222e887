import type { ModelView } from '../models/model-manager.js';
import { builder } from './builder.js';
import { roundMsOrNull, roundShare } from './display-rounding.js';

const ModelStatus = builder.enumType('ModelStatus', {
  values: {
    HEALTHY: { value: 'healthy', description: 'Circuit closed, error rate normal.' },
    DEGRADED: { value: 'degraded', description: 'Circuit closed but the recent error rate is high.' },
    OPEN: { value: 'open', description: 'Circuit open: the router skips this model.' },
    HALF_OPEN: { value: 'half-open', description: 'One probe request is allowed through.' },
  } as const,
});

const Model = builder.objectRef<ModelView>('Model').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    provider: t.exposeString('provider'),
    status: t.field({ type: ModelStatus, resolve: (m) => m.health.status }),
    requests: t.int({ resolve: (m) => m.health.requests }),
    failures: t.int({ resolve: (m) => m.health.failures }),
    consecutiveFailures: t.int({ resolve: (m) => m.health.consecutiveFailures }),
    errorRate: t.float({ description: 'Exponentially weighted recent error rate.', resolve: (m) => roundShare(m.health.errorRateEwma) }),
    latencyMs: t.float({
      nullable: true,
      description: 'Exponentially weighted recent latency.',
      resolve: (m) => roundMsOrNull(m.health.latencyEwmaMs),
    }),
    ttftMs: t.float({ nullable: true, resolve: (m) => roundMsOrNull(m.health.ttftEwmaMs) }),
    retryAfter: t.string({
      nullable: true,
      description: 'When a rate limit the provider announced ends.',
      resolve: (m) => (m.health.retryAfterUntil === null ? null : new Date(m.health.retryAfterUntil).toISOString()),
    }),
    inputPer1k: t.float({ description: 'USD per 1,000 prompt tokens.', resolve: (m) => m.pricing.inputPer1k }),
    outputPer1k: t.float({ description: 'USD per 1,000 completion tokens.', resolve: (m) => m.pricing.outputPer1k }),
    quality: t.exposeFloat('quality', { nullable: true, description: 'Simulated models: the configured quality.' }),
  }),
});

builder.queryFields((t) => ({
  models: t.field({
    type: [Model],
    resolve: (_root, _args, { services }) => services.models.list(),
  }),
}));
