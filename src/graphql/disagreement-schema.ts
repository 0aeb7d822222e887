import type { DisagreeingCell, DisagreeingClient, DisagreementView } from '../analyzer/feedback-disagreement.js';
import { builder } from './builder.js';

const DisagreeingCellRef = builder.objectRef<DisagreeingCell>('DisagreeingCell').implement({
  description: "The arm and context where a client's feedback departs most from the other clients'.",
  fields: (t) => ({
    arm: t.exposeID('armId'),
    context: t.exposeString('context'),
    clientPositive: t.exposeInt('clientPositive', { description: "The client's positive feedbacks (score above 0.5)." }),
    clientFeedbacks: t.exposeInt('clientFeedbacks', { description: "The client's counted feedbacks (neutral 0.5 not counted)." }),
    othersPositive: t.exposeInt('othersPositive'),
    othersFeedbacks: t.exposeInt('othersFeedbacks'),
    pValue: t.exposeFloat('pValue', { description: "Fisher's exact two-sided p-value of this arm and context alone." }),
  }),
});

const DisagreeingClientRef = builder.objectRef<DisagreeingClient>('DisagreeingClient').implement({
  fields: (t) => ({
    client: t.exposeString('client', { description: 'The client key id, or anonymous@<remote address> without a key.' }),
    pValue: t.exposeFloat('pValue', { description: 'The smallest p-value of its arms and contexts times their number (Bonferroni).' }),
    cellsTested: t.exposeInt('cellsTested', { description: 'Arms and contexts with enough feedback, from it and from others, to test.' }),
    worst: t.field({ type: DisagreeingCellRef, resolve: (c) => c.worst }),
  }),
});

const DisagreementRef = builder.objectRef<DisagreementView>('FeedbackDisagreement').implement({
  description: "Clients whose feedback disagrees with everyone else's on the same arm and context (analyzer.disagreement).",
  fields: (t) => ({
    generatedAt: t.string({ resolve: (v) => new Date(v.generatedAt).toISOString() }),
    falsePositiveRate: t.exposeFloat('falsePositiveRate', { description: 'The chance, at most, that an honest client is flagged.' }),
    clientsTested: t.exposeInt('clientsTested'),
    flagged: t.field({ type: [DisagreeingClientRef], description: 'Most significant first.', resolve: (v) => v.flagged }),
  }),
});

builder.queryFields((t) => ({
  disagreeingClients: t.field({
    type: DisagreementRef,
    description:
      "Clients whose feedback disagrees with everyone else's, as this instance saw it; computed at most once per analyzer.disagreement.intervalMs and shared by every caller. Admin only: it names clients.",
    resolve: (_root, _args, { services }) => services.disagreement(),
  }),
}));
