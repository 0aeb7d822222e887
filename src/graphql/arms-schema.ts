import type { ArmView } from '../router/adaptive-router.js';
import type { PosteriorSummary } from '../router/beta-distribution.js';
import { builder } from './builder.js';
import { translateErrors } from './errors.js';

const Posterior = builder.objectRef<PosteriorSummary>('Posterior').implement({
  description: 'Beta posterior of an arm\'s quality (cost and latency are kept apart from it).',
  fields: (t) => ({
    alpha: t.exposeFloat('alpha'),
    beta: t.exposeFloat('beta'),
    mean: t.exposeFloat('mean'),
    lower95: t.exposeFloat('lower95', { description: 'Lower end of the equal-tailed 95% credible interval.' }),
    upper95: t.exposeFloat('upper95'),
  }),
});

export const ArmRef = builder.objectRef<ArmView>('Arm').implement({
  description: 'A model plus its settings: what the bandit chooses between.',
  fields: (t) => ({
    id: t.exposeID('id'),
    model: t.exposeID('modelId'),
    enabled: t.exposeBoolean('enabled'),
    pulls: t.exposeInt('pulls'),
    rewardMean: t.exposeFloat('rewardMean', { nullable: true }),
    posterior: t.field({ type: Posterior, resolve: (arm) => arm.posterior }),
    probabilityBest: t.exposeFloat('probabilityBest'),
  }),
});

builder.queryFields((t) => ({
  arms: t.field({
    type: [ArmRef],
    description: 'Every arm with its statistics, overall or in one context.',
    args: { context: t.arg.string({ description: 'A context name as reported by ChatRoute.context.' }) },
    resolve: (_root, { context }, { services }) => services.router.arms(context ?? undefined),
  }),
  contexts: t.stringList({
    description: 'Contexts the router has seen.',
    resolve: (_root, _args, { services }) => services.router.contexts(),
  }),
}));

builder.mutationFields((t) => ({
  setArmEnabled: t.field({
    type: ArmRef,
    description: 'Admin: takes an arm out of routing or puts it back.',
    args: { id: t.arg.id({ required: true }), enabled: t.arg.boolean({ required: true }) },
    resolve: (_root, { id, enabled }, { services }) =>
      translateErrors(() => services.router.setArmEnabled(String(id), enabled)),
  }),
}));
