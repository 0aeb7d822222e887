import type { LoggedRow, WarmStartSummary } from '../learning/warm-start.js';
import { builder } from './builder.js';
import { translateErrors, userError } from './errors.js';

const LoggedOutcomeInput = builder.inputType('LoggedOutcomeInput', {
  fields: (t) => ({
    model: t.string({ required: true, description: 'The model name in the log (mapped to arms by router.warmStart.models, arm id, model id or provider model name).' }),
    quality: t.float({ required: true, description: 'The logged quality in [0, 1].' }),
    costUsd: t.float({ description: 'What the call cost; seeds the arm\'s cost mean.' }),
    latencyMs: t.float({ description: 'How long the call took; seeds the arm\'s latency mean.' }),
  }),
});

const LoggedRowInput = builder.inputType('LoggedRowInput', {
  fields: (t) => ({
    prompt: t.string({ required: true, description: 'The prompt, classified like a live request when no tags are given.' }),
    tags: t.stringList({ description: 'The context, as on ChatInput.' }),
    outcomes: t.field({ type: [LoggedOutcomeInput], required: true }),
  }),
});

const WarmStartResult = builder.objectRef<WarmStartSummary>('WarmStartResult').implement({
  fields: (t) => ({
    rows: t.exposeInt('rows'),
    outcomes: t.exposeInt('outcomes', { description: 'Logged outcomes learnt (one per row and arm).' }),
    unmatchedModels: t.exposeStringList('unmatchedModels', { description: 'Logged model names no arm answers to; skipped.' }),
  }),
});

builder.mutationFields((t) => ({
  warmStart: t.field({
    type: WarmStartResult,
    description:
      'Admin: teaches the router logged outcomes (the replay format as input), as one learning event: saved and shared ' +
      'like live evidence. Every row is checked first; a bad row (WARM_START_INVALID_ROW, with its index) or a batch ' +
      'over router.warmStart.maxRowsPerCall (WARM_START_TOO_MANY_ROWS) teaches nothing.',
    args: {
      rows: t.arg({ type: [LoggedRowInput], required: true }),
      weight: t.arg.float({ description: 'Live feedback scores one logged outcome is worth; default router.warmStart.weight.' }),
    },
    resolve: (_root, { rows, weight }, { services }) => {
      const logged: LoggedRow[] = rows.map((row, index) => {
        const outcomes = new Map<string, { quality: number; costUsd?: number; latencyMs?: number }>();
        for (const o of row.outcomes) {
          if (outcomes.has(o.model)) {
            throw userError('WARM_START_INVALID_ROW', `row ${index}: model "${o.model}" appears twice`, { row: index });
          }
          outcomes.set(o.model, {
            quality: o.quality,
            ...(o.costUsd != null ? { costUsd: o.costUsd } : {}),
            ...(o.latencyMs != null ? { latencyMs: o.latencyMs } : {}),
          });
        }
        return { prompt: row.prompt, tags: row.tags ?? [], outcomes };
      });
      return translateErrors(() => services.warmStart(logged, weight ?? undefined));
    },
  }),
}));
