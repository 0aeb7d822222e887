import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { CodedError } from '../../src/coded-error.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import { LEARNING_FORMAT_VERSION } from '../../src/learning/learning-format.js';
import { createLearningRules } from '../../src/learning/learning-rules.js';
import { createLearningState } from '../../src/learning/learning-state.js';
import { createLocalEventLog } from '../../src/learning/local-event-log.js';
import { createLogger } from '../../src/logger.js';
import { createStats } from '../../src/router/create-policy.js';
import { createRewardCalculator } from '../../src/router/reward-calculator.js';

/**
 * The embedded log over real files in a temporary directory: learned state of a newer format
 * (a rollback) stops start-up with LEARNED_STATE_TOO_NEW and every file is left byte for byte;
 * what this build reads is restored as before.
 */

const config = parseConfig(defaultConfig);
const reward = createRewardCalculator(config.reward);
const NEWER = LEARNING_FORMAT_VERSION + 1;
const pull = (n: number) => ({ type: 'pull', requestId: `r${n}`, armId: config.arms[0]!.id, context: 'code', id: `e${n}`, origin: 'i1', at: n });

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function open(stateFile: string) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const state = createLearningState({ stats: createStats(config.bandit, reward, config.arms), rules: createLearningRules(reward), arms: config.arms, maxContexts: 10 });
  return { state, lines, log: () => createLocalEventLog({ state, stateFile: { path: stateFile, intervalMs: 60_000, journalFsyncMs: 0 }, logger }) };
}

/** Every file of the directory with its bytes. */
const contents = () => Object.fromEntries(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name)).toString('base64')]));

function refusal(fn: () => unknown): CodedError {
  try {
    fn();
  } catch (error) {
    return error as CodedError;
  }
  throw new Error('did not refuse');
}

describe('the embedded event log meeting another version of the learned state', () => {
  it('refuses a state file of a newer format, naming the file and both formats, and leaves it as it is', () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-format-'));
    const stateFile = join(dir, 'state.json');
    writeFileSync(stateFile, JSON.stringify({ version: NEWER, stats: { contexts: [{ context: 'code', learnt: 'a lot' }] } }));
    writeFileSync(`${stateFile}.journal`, `${JSON.stringify({ n: 1, event: pull(1) })}\n`);
    const before = contents();
    const error = refusal(() => open(stateFile).log());
    expect(error).toBeInstanceOf(CodedError);
    expect(error.code).toBe('LEARNED_STATE_TOO_NEW');
    expect(error.message).toContain(stateFile);
    expect(error.message).toContain(`format ${NEWER}`);
    expect(error.message).toContain(`format ${LEARNING_FORMAT_VERSION}`);
    expect(error.details).toEqual({ path: stateFile, version: NEWER, readable: LEARNING_FORMAT_VERSION });
    expect(contents()).toEqual(before);
  });

  it('refuses a journal holding a line of a newer format, even beside a malformed state file, and moves nothing', () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-format-'));
    const stateFile = join(dir, 'state.json');
    // Malformed, which alone would be moved aside: nothing may move before every file is known readable.
    writeFileSync(stateFile, '{"version": 2, "stats": "not stats"}');
    writeFileSync(`${stateFile}.journal.1`, `${JSON.stringify({ n: 1, event: pull(1) })}\n`);
    const journal = [{ n: 2, event: pull(2) }, { v: NEWER, n: 3, event: { type: 'tool-call', tool: 'search' } }, { n: 4, event: pull(4) }];
    writeFileSync(`${stateFile}.journal`, journal.map((line) => `${JSON.stringify(line)}\n`).join(''));
    const before = contents();
    const error = refusal(() => open(stateFile).log());
    expect(error.code).toBe('LEARNED_STATE_TOO_NEW');
    expect(error.message).toContain(`${stateFile}.journal`);
    expect(contents()).toEqual(before);
  });

  it('restores state of its own format and migrates format 1, as before', async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-format-'));
    const stateFile = join(dir, 'state.json');
    const arm = config.arms[0]!.id;
    const entry = { armId: arm, pulls: 3, alpha: 2, beta: 1, rewardWeight: 1, rewardSum: 1, operationalWeight: 0, costSum: 0, latencySum: 0, stamp: 0 };
    writeFileSync(stateFile, JSON.stringify({ version: 1, contexts: [{ context: '*', clock: 3, successes: 1, trials: 1, stamp: 0, arms: [entry] }] }));
    writeFileSync(`${stateFile}.journal`, `${JSON.stringify({ n: 1, event: pull(1) })}\n${JSON.stringify({ v: 2, n: 2, event: pull(2) })}\n`);
    const first = open(stateFile);
    const log = first.log();
    expect(first.state.applied()).toBe(2);
    await log.stop();
    // Saved in this build's format; the journal, compacted into it, starts again empty.
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { version: number; applied: number };
    expect(saved).toMatchObject({ version: LEARNING_FORMAT_VERSION, applied: 2 });
    const second = open(stateFile);
    await second.log().stop();
    expect(second.state.snapshot()).toEqual(first.state.snapshot());
  });

  it('stops npm run warm-start too, with one line, before any row is taught', async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-format-'));
    const stateFile = join(dir, 'state.json');
    writeFileSync(stateFile, JSON.stringify({ version: NEWER, learnt: 'by a newer version' }));
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ ...defaultConfig, router: { stateFile } }));
    const data = join(dir, 'rows.jsonl');
    writeFileSync(data, `${JSON.stringify({ prompt: 'hello', outcomes: { [config.arms[0]!.model]: { quality: 1 } } })}\n`);
    const before = contents();
    const repo = fileURLToPath(new URL('../..', import.meta.url));
    const failure = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/warm-start.ts', '--data', data], {
      cwd: repo,
      env: { ...process.env, SWITCHYARD_CONFIG: configFile },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 1 });
    const stderr = (failure as { stderr: string }).stderr;
    expect(stderr.startsWith(`warm-start: LEARNED_STATE_TOO_NEW: ${stateFile} holds learned state in format ${NEWER}`)).toBe(true);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(contents()).toEqual(before);
  }, 60_000);
});
