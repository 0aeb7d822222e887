import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import { decodeJournalEntry, encodeJournalEntry, journalLineSchemas } from '../../src/learning/journal-entry.js';
import { decodeEvent, decodeSnapshot, LEARNING_FORMAT_VERSION, learningFormatSchemas } from '../../src/learning/learning-format.js';
import { createLearningRules } from '../../src/learning/learning-rules.js';
import { createLearningState } from '../../src/learning/learning-state.js';
import { createStats } from '../../src/router/create-policy.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';

/**
 * The learning format's contract (docs/reliability.md, "Learning format versions"): one decoder
 * for every store, newer formats told apart from malformed data, older ones migrated, and no
 * change to what is written without a new format version.
 */

/**
 * The fingerprint of each format's schemas. A schema change that an older build would refuse
 * (a field, an event type, an enum value) is a new format: raise LEARNING_FORMAT_VERSION and add
 * its fingerprint here; never edit an existing one.
 */
const FINGERPRINTS: Record<number, string> = {
  2: '7fe8bd97b709e1df0326368fa893704492ade62b440c2d0409a8d3f270e03f95',
};

const pull = { type: 'pull', requestId: 'r1', armId: 'best', context: 'code', id: 'e1', origin: 'i1', at: 1 };

describe('the learning format', () => {
  it('changes only with a new format version', () => {
    const schemas = { ...learningFormatSchemas, ...journalLineSchemas };
    const shape = Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, z.toJSONSchema(schema)]));
    const fingerprint = createHash('sha256').update(JSON.stringify(shape)).digest('hex');
    expect(fingerprint, `the learning format changed: raise LEARNING_FORMAT_VERSION (now ${LEARNING_FORMAT_VERSION})`).toBe(
      FINGERPRINTS[LEARNING_FORMAT_VERSION],
    );
  });

  it('writes snapshots that lead with their version (the Redis snapshot script reads it there)', () => {
    const config = parseConfig(defaultConfig);
    const reward = createRewardCalculator(config.reward);
    const state = createLearningState({
      stats: createStats(config.bandit, reward, config.arms),
      rules: createLearningRules(reward),
      arms: config.arms,
      maxContexts: 10,
    });
    expect(JSON.stringify(state.snapshot()).startsWith(`{"version":${LEARNING_FORMAT_VERSION},`)).toBe(true);
  });

  it('tells a newer snapshot from a malformed one, and migrates format 1', () => {
    expect(decodeSnapshot({ version: LEARNING_FORMAT_VERSION + 1, anything: 'at all' })).toEqual({ kind: 'newer', version: LEARNING_FORMAT_VERSION + 1 });
    expect(decodeSnapshot({ stats: {} }).kind).toBe('malformed');
    expect(decodeSnapshot({ version: 2, stats: { version: 1, contexts: [] }, operator: { arms: {}, shadowRate: null }, applied: 0, extra: 1 }).kind).toBe(
      'malformed',
    );
    expect(decodeSnapshot({ version: 1, contexts: [] })).toEqual({
      kind: 'ok',
      value: { version: 2, stats: { version: 1, contexts: [] }, operator: { arms: {}, shadowRate: null }, applied: 0 },
    });
  });

  it('decodes events by their record marker: unmarked is format 2, a newer marker is never parsed', () => {
    expect(decodeEvent(pull, undefined)).toEqual({ kind: 'ok', value: pull });
    expect(decodeEvent(pull, '2')).toEqual({ kind: 'ok', value: pull });
    expect(decodeEvent({ type: 'tool-call', whatever: true }, '3')).toEqual({ kind: 'newer', version: 3 });
    expect(decodeEvent(pull, 'x').kind).toBe('malformed');
    // An unknown type or field under a format this build reads is malformed, not newer.
    expect(decodeEvent({ ...pull, type: 'tool-call' }, undefined).kind).toBe('malformed');
    expect(decodeEvent({ ...pull, extra: 1 }, undefined).kind).toBe('malformed');
  });

  it('describes a malformed event without any of its values', () => {
    const secret = 'sk-this-must-not-be-logged';
    const decoded = decodeEvent({ ...pull, armId: 42, requestId: secret, [secret]: secret }, undefined);
    expect(decoded.kind).toBe('malformed');
    if (decoded.kind !== 'malformed') return;
    expect(decoded.issues.length).toBeGreaterThan(0);
    expect(decoded.issues.join(' ')).not.toContain(secret);
  });

  it('reads journal lines of its own format, marked or not, and refuses a newer one whatever it holds', () => {
    const line = encodeJournalEntry({ n: 1, event: pull as never });
    expect(decodeJournalEntry(JSON.parse(line))).toEqual({ kind: 'ok', value: { n: 1, event: pull } });
    expect(decodeJournalEntry({ v: 2, n: 1, event: pull }).kind).toBe('ok');
    expect(decodeJournalEntry({ v: 3, n: 1, event: { type: 'tool-call' }, more: [] })).toEqual({ kind: 'newer', version: 3 });
    expect(decodeJournalEntry({ v: 3, record: { id: 'r', createdAt: 1, status: 'completed' } })).toEqual({ kind: 'newer', version: 3 });
    expect(decodeJournalEntry({ n: 1, event: { ...pull, type: 'tool-call' } }).kind).toBe('malformed');
  });
});
