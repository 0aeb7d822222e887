import type { ArmView } from '../router/adaptive-router.js';
import { GLOBAL_CONTEXT } from '../router/bandit.js';
import type { PosteriorSummary } from '../router/beta-distribution.js';
import { builder } from './builder.js';
import { roundEstimate, roundShare, roundShareOrNull } from './display-rounding.js';
import type { GraphQLServices } from './context.js';
import { translateErrors } from './errors.js';
import { selectsField } from './field-selection.js';

const Posterior = builder.objectRef<PosteriorSummary>('Posterior').implement({
  description: 'Beta posterior of an arm\'s quality (cost and latency are kept apart from it).',
  fields: (t) => ({
    alpha: t.exposeFloat('alpha'),
    beta: t.exposeFloat('beta'),
    mean: t.float({ resolve: (p) => roundShare(p.mean) }),
    lower95: t.float({
      description: 'Lower end of the equal-tailed 95% credible interval.',
      resolve: (p) => roundShare(p.lower95),
    }),
    upper95: t.float({ resolve: (p) => roundShare(p.upper95) }),
  }),
});

const CONTEXT_FIGURE =
  'Depends on the context the arm was read in, which this type does not key: normalised caches mix ' +
  'contexts. Read it from ArmInContext (armsInContext, FeedbackResult.armInContext).';

export const ArmRef = builder.objectRef<ArmView>('Arm').implement({
  description: 'A model plus its settings: what the bandit chooses between.',
  fields: (t) => ({
    id: t.exposeID('id'),
    model: t.exposeID('modelId'),
    enabled: t.exposeBoolean('enabled'),
    pulls: t.exposeInt('pulls', { deprecationReason: CONTEXT_FIGURE }),
    rewardMean: t.float({ nullable: true, deprecationReason: CONTEXT_FIGURE, resolve: (arm) => roundShareOrNull(arm.rewardMean) }),
    posterior: t.field({ type: Posterior, deprecationReason: CONTEXT_FIGURE, resolve: (arm) => arm.posterior }),
    probabilityBest: t.float({ deprecationReason: CONTEXT_FIGURE, resolve: (arm) => roundEstimate(arm.probabilityBest) }),
  }),
});

/** An arm's figures read in one context. */
export interface ArmInContext {
  readonly arm: ArmView;
  readonly context: string;
}

export const ArmInContextRef = builder.objectRef<ArmInContext>('ArmInContext').implement({
  description:
    'An arm\'s statistics in one context. The id, "<arm>@<context>", keys them per arm and context, so ' +
    'normalised client caches (Apollo, urql graphcache, Relay) keep every context\'s figures apart.',
  fields: (t) => ({
    id: t.id({ resolve: ({ arm, context }) => `${arm.id}@${context}` }),
    context: t.exposeString('context', { description: `The context ("${GLOBAL_CONTEXT}" for all requests).` }),
    arm: t.field({ type: ArmRef, description: 'The arm itself: id, model, enabled.', resolve: ({ arm }) => arm }),
    pulls: t.int({ resolve: ({ arm }) => arm.pulls }),
    rewardMean: t.float({
      nullable: true,
      description: 'Weighted mean of the rewards received; null before any.',
      resolve: ({ arm }) => roundShareOrNull(arm.rewardMean),
    }),
    posterior: t.field({ type: Posterior, resolve: ({ arm }) => arm.posterior }),
    probabilityBest: t.float({
      description: 'Monte Carlo estimate of the probability that this arm is the best enabled one here.',
      resolve: ({ arm }) => roundEstimate(arm.probabilityBest),
    }),
  }),
});

export const inContext = (arm: ArmView, context: string): ArmInContext => ({ arm, context });

/**
 * The arms in a context with exact counts and posteriors and, when asked for, the probability of
 * being best from the view shared for analyzer.sharedViewMs (never one Monte Carlo run per query).
 */
const sharedArms = (services: GraphQLServices, context: string, withProbabilityBest: boolean): ArmView[] => {
  const arms = services.router.arms(context, 0);
  if (!withProbabilityBest) return arms;
  const best = services.probabilityBest(context);
  return arms.map((arm) => ({ ...arm, probabilityBest: best.get(arm.id) ?? 0 }));
};

builder.queryFields((t) => ({
  arms: t.field({
    type: [ArmRef],
    description: 'Every arm with its statistics, overall or in one context.',
    args: { context: t.arg.string({ description: 'A context name as reported by ChatRoute.context.' }) },
    resolve: (_root, { context }, { services }, info) =>
      translateErrors(() => sharedArms(services, context ?? GLOBAL_CONTEXT, selectsField(info, 'Arm', 'probabilityBest'))),
  }),
  armsInContext: t.field({
    type: [ArmInContextRef],
    description: 'Every arm with its statistics in one context (all requests when absent), keyed per arm and context.',
    args: { context: t.arg.string({ description: 'A context name as reported by ChatRoute.context.' }) },
    resolve: (_root, { context }, { services }, info) => {
      const name = context ?? GLOBAL_CONTEXT;
      return translateErrors(() =>
        sharedArms(services, name, selectsField(info, 'ArmInContext', 'probabilityBest')).map((arm) => inContext(arm, name)),
      );
    },
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
