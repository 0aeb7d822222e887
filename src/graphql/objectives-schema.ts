import type { ObjectiveArmFigures, ObjectiveFigures } from '../analyzer/objective-figures.js';
import { AnalyzerRef } from './analyzer-schema.js';
import { builder } from './builder.js';
import { roundShareOrNull, roundUsd } from './display-rounding.js';

const ObjectiveArmRef = builder.objectRef<ObjectiveArmFigures>('ObjectiveArm').implement({
  fields: (t) => ({
    arm: t.exposeID('armId'),
    requests: t.exposeInt('requests'),
  }),
});

const ObjectiveReportRef = builder.objectRef<ObjectiveFigures>('ObjectiveReport').implement({
  description:
    'Spend and quality of the requests that asked for one trade-off (ChatInput.objective), since start on this instance. ' +
    'Requests that gave none are the "default" group.',
  fields: (t) => ({
    objective: t.exposeString('objective', {
      description: '"default", "(other)" (past analyzer.maxObjectives), or the set fields, e.g. "costWeight=0.5 maxCostUsd=0.001".',
    }),
    costWeight: t.exposeFloat('costWeight', { nullable: true, description: 'Null: the configured reward.cost.' }),
    latencyWeight: t.exposeFloat('latencyWeight', { nullable: true, description: 'Null: the configured reward.latency.' }),
    maxCostUsd: t.exposeFloat('maxCostUsd', { nullable: true }),
    requests: t.exposeInt('requests', { description: 'Finished requests, cached ones included.' }),
    errors: t.exposeInt('errors'),
    cachedRequests: t.exposeInt('cachedRequests'),
    spendUsd: t.float({ resolve: (o) => roundUsd(o.spendUsd) }),
    meanCostUsd: t.float({ nullable: true, resolve: (o) => (o.meanCostUsd === null ? null : roundUsd(o.meanCostUsd)) }),
    judged: t.exposeInt('judged', { description: 'Requests with feedback.' }),
    meanQuality: t.float({
      nullable: true,
      description: 'Mean of their latest feedback scores (0–1); null without any.',
      resolve: (o) => roundShareOrNull(o.meanQuality),
    }),
    arms: t.field({ type: [ObjectiveArmRef], description: "Where the group's requests went, most first.", resolve: (o) => o.arms }),
  }),
});

builder.objectField(AnalyzerRef, 'objectives', (t) =>
  t.field({
    type: [ObjectiveReportRef],
    description: 'Spend and quality per request objective, the default group first.',
    resolve: (_snapshot, _args, { services }) => services.objectives.report(),
  }),
);
