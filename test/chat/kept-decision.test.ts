import { describe, expect, it } from 'vitest';
import { keptDecision } from '../../src/chat/request-store.js';
import { createInterner } from '../../src/interner.js';

describe('keptDecision', () => {
  it('is the same decision, field for field, with its context from the interner', () => {
    const interner = createInterner(4);
    const decision = {
      armId: 'fast',
      modelId: 'm',
      context: ['chat', 'short'].join('/'),
      confidence: 0.75,
      pinned: false,
      explanation: { selection: 'policy' as const, policy: 'thompson', candidates: [], selectionProbability: null },
    };
    const kept = keptDecision(decision, interner.intern);
    expect(kept).toEqual(decision);
    expect(kept.explanation).toBe(decision.explanation);
    keptDecision({ ...decision, context: ['chat', 'short'].join('/') }, interner.intern);
    expect(interner.size()).toBe(1);
  });
});
