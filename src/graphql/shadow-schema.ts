import type {
  ComparisonResult,
  ShadowArmStats,
  ShadowCallView,
  ShadowStats,
} from '../router/shadow-router.js';
import { ArmInContextRef, ArmRef, inContext } from './arms-schema.js';
import { builder } from './builder.js';
import { roundMsOrNull, roundUsd } from './display-rounding.js';
import { translateErrors } from './errors.js';

const ComparisonPreference = builder.enumType('ComparisonPreference', {
  description: 'Which of the two answers of a shadowed request was better.',
  values: {
    PRIMARY: { description: 'The answer the user was served: primary arm reward 1, shadow arm 0.' },
    SHADOW: { description: 'The shadow answer: shadow arm reward 1, primary arm 0.' },
    TIE: { description: 'Equally good: reward 0.5 for each arm.' },
  } as const,
});

const ShadowPause = builder.enumType('ShadowPause', {
  values: {
    BUDGET: { value: 'budget', description: 'Shadow spend over the last 60 s reached budgetUsdPerMinute.' },
    CONCURRENCY: { value: 'concurrency', description: 'maxConcurrent shadow calls are in flight.' },
  } as const,
});

const ShadowCallStatus = builder.enumType('ShadowCallStatus', {
  values: {
    RUNNING: { value: 'running' },
    COMPLETED: { value: 'completed' },
    FAILED: { value: 'failed' },
    CANCELLED: { value: 'cancelled', description: 'Aborted by shutdown; nothing was learned from it.' },
  } as const,
});

const ShadowSkips = builder.objectRef<ShadowStats['skipped']>('ShadowSkips').implement({
  description: 'Selected requests that were not shadowed, by reason.',
  fields: (t) => ({
    budget: t.exposeInt('budget'),
    concurrency: t.exposeInt('concurrency'),
    noArm: t.exposeInt('noArm', { description: 'No other arm was available (or the named arm served the primary).' }),
    total: t.int({ resolve: (s) => s.budget + s.concurrency + s.noArm }),
  }),
});

const ShadowArm = builder.objectRef<ShadowArmStats>('ShadowArm').implement({
  description:
    "One arm's shadow calls (those this instance ran) and the comparisons in which it was the shadow " +
    '(with shared learning, taken by any instance: the same on every replica).',
  fields: (t) => ({
    arm: t.exposeID('armId'),
    model: t.exposeID('modelId'),
    calls: t.exposeInt('calls'),
    completed: t.exposeInt('completed'),
    failed: t.exposeInt('failed'),
    spendUsd: t.float({ resolve: (a) => roundUsd(a.spendUsd) }),
    meanLatencyMs: t.float({ nullable: true, resolve: (a) => roundMsOrNull(a.meanLatencyMs) }),
    meanTtftMs: t.float({ nullable: true, resolve: (a) => roundMsOrNull(a.meanTtftMs) }),
    comparisons: t.exposeInt('comparisons'),
    shadowPreferred: t.exposeInt('shadowPreferred'),
    primaryPreferred: t.exposeInt('primaryPreferred'),
    ties: t.exposeInt('ties'),
  }),
});

const Shadow = builder.objectRef<ShadowStats>('Shadow').implement({
  description:
    'Shadow routing: a share of routed requests also answered, in the background, by a second arm. ' +
    'The selection, call and total spend figures are this instance\'s (each instance shadows its own traffic); ' +
    'with shared learning the comparison figures and spendLastMinuteUsd (the budget) come from the event log, ' +
    'the same on every replica.',
  fields: (t) => ({
    rate: t.exposeFloat('rate', { description: 'Share of eligible requests selected for shadowing.' }),
    arm: t.exposeString('arm', { description: '"uncertain" (the other arm with the most uncertain posterior) or an arm id.' }),
    maxConcurrent: t.exposeInt('maxConcurrent'),
    budgetUsdPerMinute: t.exposeFloat('budgetUsdPerMinute'),
    eligible: t.exposeInt('eligible', { description: 'Routed (not pinned, not cached) requests that called a model.' }),
    selected: t.exposeInt('selected', { description: 'Eligible requests the rate selected: calls + skipped.' }),
    calls: t.exposeInt('calls', { description: 'Shadow calls started.' }),
    inFlight: t.exposeInt('inFlight'),
    completed: t.exposeInt('completed'),
    failed: t.exposeInt('failed'),
    spendUsd: t.float({ resolve: (s) => roundUsd(s.spendUsd) }),
    spendLastMinuteUsd: t.float({
      description: 'Spend of shadow calls that ended in the last 60 s (with shared learning: on every instance), checked against the budget.',
      resolve: (s) => roundUsd(s.spendLastMinuteUsd),
    }),
    skipped: t.field({ type: ShadowSkips, resolve: (s) => s.skipped }),
    paused: t.field({
      type: ShadowPause,
      nullable: true,
      description: 'Why a selected request would be skipped now; null while shadowing runs.',
      resolve: (s) => s.paused,
    }),
    comparisons: t.exposeInt('comparisons'),
    arms: t.field({ type: [ShadowArm], resolve: (s) => s.arms }),
  }),
});

const ShadowCall = builder.objectRef<ShadowCallView>('ShadowCall').implement({
  description: 'The shadow answer of one request.',
  fields: (t) => ({
    requestId: t.exposeID('requestId'),
    arm: t.exposeID('armId'),
    model: t.exposeID('modelId'),
    primaryArm: t.exposeID('primaryArmId', { description: 'The arm the request was first routed to.' }),
    context: t.exposeString('context'),
    status: t.field({ type: ShadowCallStatus, resolve: (c) => c.status }),
    text: t.exposeString('text', {
      description: 'The answer as stored: at most shadow.maxStoredAnswerBytes of UTF-8, cut there (never inside a character) when longer.',
    }),
    textTruncated: t.exposeBoolean('textTruncated', {
      description: 'Whether text is only the beginning of the answer, cut at shadow.maxStoredAnswerBytes: a judge did not see it all.',
    }),
    // An Int holds it: a JS string's UTF-8 size stays below 2^31 (V8 strings are under 2^29 units, 3 bytes each at most).
    truncatedFromBytes: t.exposeInt('truncatedFromBytes', {
      nullable: true,
      description: "The whole answer's size in UTF-8 bytes, as the model streamed it, when text was cut; null when text is all of it.",
    }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    latencyMs: t.float({ nullable: true, resolve: (c) => roundMsOrNull(c.latencyMs) }),
    ttftMs: t.float({ nullable: true, resolve: (c) => roundMsOrNull(c.ttftMs) }),
    completionTokens: t.exposeInt('completionTokens'),
    costUsd: t.float({ resolve: (c) => roundUsd(c.costUsd) }),
    startedAt: t.string({ resolve: (c) => new Date(c.startedAt).toISOString() }),
    comparison: t.field({ type: ComparisonPreference, nullable: true, resolve: (c) => c.comparison }),
  }),
});

const Comparison = builder.objectRef<ComparisonResult>('Comparison').implement({
  fields: (t) => ({
    requestId: t.exposeID('requestId'),
    preferred: t.field({ type: ComparisonPreference, resolve: (r) => r.preferred }),
    context: t.exposeString('context'),
    primaryArm: t.field({ type: ArmRef, description: 'Statistics in the request\'s context after the update.', resolve: (r) => r.primaryArm }),
    shadowArm: t.field({ type: ArmRef, resolve: (r) => r.shadowArm }),
    primaryArmInContext: t.field({
      type: ArmInContextRef,
      description: "The primary arm's statistics in the request's context after the update.",
      resolve: (r) => inContext(r.primaryArm, r.context),
    }),
    shadowArmInContext: t.field({
      type: ArmInContextRef,
      description: "The shadow arm's statistics in the request's context after the update.",
      resolve: (r) => inContext(r.shadowArm, r.context),
    }),
  }),
});

builder.queryFields((t) => ({
  shadow: t.field({
    type: Shadow,
    description: 'Shadow routing figures.',
    resolve: (_root, _args, { services }) => services.shadow.stats(),
  }),
  shadowCall: t.field({
    type: ShadowCall,
    nullable: true,
    description:
      'The shadow answer of a request; null when it was not shadowed, has expired or is not yours ' +
      '(ownership as for request: the feedbackToken without a client key).',
    args: {
      requestId: t.arg.id({ required: true }),
      feedbackToken: t.arg.string({ description: "The ChatRoute's feedbackToken." }),
    },
    resolve: (_root, { requestId, feedbackToken }, { services, principal }) =>
      translateErrors(async () => (await services.gate.shadowCall(principal, String(requestId), feedbackToken)) ?? null),
  }),
}));

builder.mutationFields((t) => ({
  submitComparison: t.field({
    type: Comparison,
    description:
      'Which answer of a shadowed request was better. Teaches both arms in the request\'s context as one ' +
      'quality feedback each (preferred 1, other 0, tie 0.5). A second submission replaces the first. ' +
      'Only by the client that made the request (the feedbackToken without a client key).',
    args: {
      requestId: t.arg.id({ required: true }),
      preferred: t.arg({ type: ComparisonPreference, required: true }),
      feedbackToken: t.arg.string({ description: "The ChatRoute's feedbackToken." }),
    },
    resolve: (_root, { requestId, preferred, feedbackToken }, { services, principal }) =>
      translateErrors(() => services.gate.submitComparison(principal, String(requestId), preferred, feedbackToken)),
  }),
  setShadowRate: t.field({
    type: Shadow,
    description: 'Admin: sets the share of eligible requests shadowed, in [0, 1] (0 stops shadowing).',
    args: { rate: t.arg.float({ required: true }) },
    resolve: (_root, { rate }, { services }) => translateErrors(() => services.shadow.setRate(rate)),
  }),
}));
