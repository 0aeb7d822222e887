import type { FeedbackResult } from '../chat/chat-service.js';
import { ArmInContextRef, ArmRef, inContext } from './arms-schema.js';
import { builder } from './builder.js';
import { translateErrors } from './errors.js';

const Thumbs = builder.enumType('Thumbs', { values: ['UP', 'DOWN'] as const });

const FeedbackInput = builder.inputType('FeedbackInput', {
  description: 'Exactly one of score, thumbs or rating.',
  fields: (t) => ({
    requestId: t.id({ required: true }),
    score: t.float({ description: 'From 0 (useless) to 1 (perfect).' }),
    thumbs: t.field({ type: Thumbs, description: 'UP counts as 1, DOWN as 0.' }),
    rating: t.int({ description: 'From 1 to 5, counted as (rating - 1) / 4.' }),
    comment: t.string(),
    feedbackToken: t.string({
      description: "The ChatRoute's feedbackToken: required without a client key (with one, the key that made the request is enough).",
    }),
  }),
});

const FeedbackResultRef = builder.objectRef<FeedbackResult>('FeedbackResult').implement({
  fields: (t) => ({
    requestId: t.exposeID('requestId'),
    score: t.exposeFloat('score', { description: 'The feedback as a score in [0, 1].' }),
    learned: t.exposeBoolean('learned', {
      description: 'False when the answer came from the cache or a shared call, which teaches the bandit nothing.',
    }),
    evicted: t.exposeBoolean('evicted', { description: 'True when negative feedback removed the answer from the cache.' }),
    context: t.exposeString('context', { description: 'The context the request was routed in, where the feedback counts.' }),
    armInContext: t.field({
      type: ArmInContextRef,
      description: "The arm's statistics in that context after the update.",
      resolve: (r) => inContext(r.arm, r.context),
    }),
    arm: t.field({
      type: ArmRef,
      description: "The arm's statistics in the request's context after the update (figures: see armInContext).",
      resolve: (r) => r.arm,
    }),
  }),
});

builder.mutationFields((t) => ({
  submitFeedback: t.field({
    type: FeedbackResultRef,
    description:
      'Feedback on a completed request, from the client that made it: the same client key (or an admin key), or ' +
      "without keys the request's feedbackToken. A second submission replaces the first.",
    args: { input: t.arg({ type: FeedbackInput, required: true }) },
    resolve: (_root, { input }, { services, principal }) =>
      translateErrors(
        () =>
          services.gate.submitFeedback(principal, {
            requestId: String(input.requestId),
            score: input.score,
            thumbs: input.thumbs,
            rating: input.rating,
            comment: input.comment,
            feedbackToken: input.feedbackToken,
          })),
  }),
}));
