import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ArmsDocument,
  ChatDocument,
  SetShadowRateDocument,
  ShadowCallDocument,
  ShadowDocument,
  SubmitComparisonDocument,
  type ChatSubscription,
} from '../../src/client/generated/graphql.js';
import type { ModelBackend } from '../../src/models/backend.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { createScriptedBackend, deferred } from '../helpers/scripted-backend.js';

type ChatEvent = ChatSubscription['chat'];

interface ChatOutcome {
  requestId: string;
  feedbackToken: string;
  arm: string;
  context: string;
  text: string;
  done: Extract<ChatEvent, { __typename: 'ChatDone' }>;
}

async function chat(gateway: RunningGateway, content: string, arm?: string): Promise<ChatOutcome> {
  let route: Extract<ChatEvent, { __typename: 'ChatRoute' }> | null = null;
  let text = '';
  for await (const result of gateway.client.subscribe(ChatDocument, {
    input: { messages: [{ role: 'USER', content }], arm, cache: false },
  })) {
    expect(result.errors).toBeUndefined();
    const event = result.data!.chat;
    if (event.__typename === 'ChatRoute') route = event;
    else if (event.__typename === 'ChatChunk') text += event.text;
    else if (event.__typename === 'ChatDone') {
      return { requestId: event.requestId, feedbackToken: route!.feedbackToken, arm: route!.arm, context: route!.context, text, done: event };
    } else throw new Error(`chat failed: ${event.__typename}`);
  }
  throw new Error('chat ended without done');
}

const shadowStats = async (gateway: RunningGateway) => (await gateway.client.request(ShadowDocument, {})).shadow;

/**
 * Two arms: "primary" (the only one routing picks) and "candidate", disabled for routing and
 * named as the shadow arm, the way a new model is evaluated before it serves users.
 */
function twoArmConfig(shadow: Record<string, unknown>): Record<string, unknown> {
  return testConfigInput({
    arms: [
      { id: 'primary', model: 'm-fair' },
      { id: 'candidate', model: 'm-good', enabled: false },
    ],
    cache: { enabled: false },
    // Contexts learn alone, so a context's posterior moves by exactly the evidence it receives.
    bandit: { seed: 7, hierarchyStrength: 0 },
    shadow: { rate: 1, arm: 'candidate', seed: 1, ...shadow },
  });
}

let gateway: RunningGateway | null = null;
afterEach(async () => {
  await gateway?.close();
  gateway = null;
});

async function start(config: Record<string, unknown>, backends?: Map<string, ModelBackend>) {
  gateway = await startGateway({ config, backends });
  return gateway;
}

describe('shadow rate', () => {
  it('shadows the configured share of routed requests, never pinned ones, always on another arm', async () => {
    const g = await start(
      testConfigInput({
        cache: { enabled: false },
        shadow: { rate: 0.3, seed: 11, maxConcurrent: 1_000, budgetUsdPerMinute: 1_000 },
      }),
    );
    const n = 300;
    const outcomes: ChatOutcome[] = [];
    for (let batch = 0; batch < n; batch += 20) {
      outcomes.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => chat(g, `question ${batch + i}`)))));
    }
    for (let i = 0; i < 10; i++) await chat(g, `pinned ${i}`, 'fair');
    await expect.poll(async () => (await shadowStats(g)).inFlight).toBe(0);

    const stats = await shadowStats(g);
    expect(stats.eligible).toBe(n);
    expect(stats.skipped.total).toBe(0);
    expect(stats.selected).toBe(stats.calls);
    // selected ~ Binomial(300, 0.3): mean 90, sd sqrt(300 * 0.3 * 0.7) = 7.94. Four sd (31.7) bound
    // a correct sampler's miss at ~6e-5; the seed makes the run repeat exactly.
    const sd = Math.sqrt(n * 0.3 * 0.7);
    expect(Math.abs(stats.selected - n * 0.3)).toBeLessThanOrEqual(4 * sd);
    expect(stats.completed).toBe(stats.calls);
    expect(stats.arms.reduce((sum, a) => sum + a.calls, 0)).toBe(stats.calls);

    let shadowed = 0;
    for (const outcome of outcomes) {
      // Through the service: 300 round trips would only test the transport again.
      const call = await g.app.services.shadow.call(outcome.requestId);
      if (!call) continue;
      shadowed += 1;
      expect(call.primaryArmId).toBe(outcome.arm);
      expect(call.armId).not.toBe(outcome.arm);
      expect(call.context).toBe(outcome.context);
      expect(call.status).toBe('completed');
      expect(call.text.split(/\s+/).filter(Boolean)).toHaveLength(40);
    }
    expect(shadowed).toBe(stats.calls);
  });

  it('takes a new rate from the admin mutation and refuses one outside [0, 1]', async () => {
    const g = await start(testConfigInput({ cache: { enabled: false }, shadow: { rate: 0.3 } }));
    expect((await g.client.request(SetShadowRateDocument, { rate: 0 })).setShadowRate.rate).toBe(0);
    for (let i = 0; i < 10; i++) await chat(g, `q${i}`);
    const stats = await shadowStats(g);
    expect(stats.eligible).toBe(10);
    expect(stats.selected).toBe(0);
    await expect(g.client.request(SetShadowRateDocument, { rate: 1.5 })).rejects.toMatchObject({
      errors: [{ extensions: { code: 'INVALID_SHADOW_RATE' } }],
    });
  });
});

describe('shadowing and the primary stream', () => {
  it("does not delay the primary: its done event arrives while the shadow call is still blocked", async () => {
    const release = deferred();
    const shadowBackend = createScriptedBackend('m-good', { beforeFirstToken: () => release.promise });
    const shadowStarted = shadowBackend.nextCall();
    // The primary finishes only after the shadow call has begun (and is blocked), so the two overlap.
    const primaryBackend = createScriptedBackend('m-fair', { afterFirstToken: () => shadowStarted });
    const g = await start(
      twoArmConfig({}),
      new Map<string, ModelBackend>([
        ['m-fair', primaryBackend],
        ['m-good', shadowBackend],
      ]),
    );

    const outcome = await chat(g, 'hello');
    expect(outcome.arm).toBe('primary');
    expect(outcome.text).toBe(Array.from({ length: 12 }, (_, i) => `word${i} `).join(''));
    const during = await shadowStats(g);
    expect(during.inFlight).toBe(1);
    expect((await g.client.request(ShadowCallDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken })).shadowCall?.status).toBe(
      'RUNNING',
    );

    release.resolve();
    await expect
      .poll(async () => (await g.client.request(ShadowCallDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken })).shadowCall?.status)
      .toBe('COMPLETED');
    const call = (await g.client.request(ShadowCallDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken })).shadowCall!;
    expect(call.arm).toBe('candidate');
    expect(call.text).toBe(outcome.text);
    expect(call.costUsd).toBeCloseTo((10 * 0.001 + 12 * 0.002) / 1000, 12);
  });

  it('keeps a shadow failure away from the primary, and learns it as an error of the shadow arm without a pull', async () => {
    const g = await start(
      twoArmConfig({}),
      new Map<string, ModelBackend>([['m-good', createScriptedBackend('m-good', { failWith: 'UPSTREAM_HTTP_ERROR' })]]),
    );
    const outcome = await chat(g, 'will the shadow fail?');
    expect(outcome.done.finishReason).toBe('stop');
    expect(outcome.done.metrics.completionTokens).toBe(40);
    await expect.poll(async () => (await shadowStats(g)).failed).toBe(1);

    const call = (await g.client.request(ShadowCallDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken })).shadowCall!;
    expect(call).toMatchObject({ status: 'FAILED', errorCode: 'UPSTREAM_HTTP_ERROR' });
    const arms = (await g.client.request(ArmsDocument, { context: outcome.context })).arms;
    const candidate = arms.find((a) => a.id === 'candidate')!;
    const primary = arms.find((a) => a.id === 'primary')!;
    expect(candidate.pulls).toBe(0);
    expect(primary.pulls).toBe(1);
    // An error is a quality-0 observation at the quality weight: it lands on beta only.
    const prior = arms.find((a) => a.id === 'primary')!.posterior;
    expect(candidate.posterior.beta - prior.beta).toBeCloseTo(g.config.reward.quality, 9);
    expect(candidate.posterior.alpha).toBeCloseTo(prior.alpha, 9);

    // The next request is served as well.
    expect((await chat(g, 'and again')).done.finishReason).toBe('stop');
  });
});

describe('stored shadow answers', () => {
  it('say over GraphQL when the stored text was cut at maxStoredAnswerBytes, and the whole size; a short one is whole', async () => {
    const maxStoredAnswerBytes = 1_024;
    // 2-byte characters: the cut and the size are in UTF-8 bytes, not characters.
    const tokens = Array.from({ length: 200 }, (_, i) => `éèê${i % 10} `);
    const wholeText = tokens.join('');
    const wholeBytes = Buffer.byteLength(wholeText);
    expect(wholeBytes).toBeGreaterThan(maxStoredAnswerBytes);
    let long = true;
    const longShadow = createScriptedBackend('m-good', { tokens });
    const shortShadow = createScriptedBackend('m-good');
    // One model id, two scripts: the first request's shadow answer is long, the second's short.
    const shadowBackend: ModelBackend = { ...longShadow, stream: (request) => (long ? longShadow : shortShadow).stream(request) };
    const g = await start(twoArmConfig({ maxStoredAnswerBytes }), new Map([['m-good', shadowBackend]]));
    const completedCall = async (outcome: ChatOutcome) => {
      const ask = async () =>
        (await g.client.request(ShadowCallDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken })).shadowCall!;
      await expect.poll(async () => (await ask()).status).toBe('COMPLETED');
      return ask();
    };

    const cut = await completedCall(await chat(g, 'a long shadow answer'));
    expect(cut.textTruncated).toBe(true);
    expect(cut.truncatedFromBytes).toBe(wholeBytes);
    expect(Buffer.byteLength(cut.text)).toBeLessThanOrEqual(maxStoredAnswerBytes);
    expect(Buffer.byteLength(cut.text)).toBeGreaterThan(maxStoredAnswerBytes - 2);
    expect(wholeText.startsWith(cut.text)).toBe(true);
    // Measured on the whole answer as it streamed, not on the stored text.
    expect(cut.completionTokens).toBe(tokens.length);

    long = false;
    const whole = await completedCall(await chat(g, 'a short shadow answer'));
    expect(whole).toMatchObject({
      textTruncated: false,
      truncatedFromBytes: null,
      text: Array.from({ length: 12 }, (_, i) => `word${i} `).join(''),
    });
  });
});

describe('shadow limits', () => {
  it('pauses at maxConcurrent shadow calls, counts the skips, and resumes when one ends', async () => {
    let gate = deferred();
    const shadowBackend = createScriptedBackend('m-good', { beforeFirstToken: () => gate.promise });
    const g = await start(twoArmConfig({ maxConcurrent: 1 }), new Map([['m-good', shadowBackend]]));

    await chat(g, 'first');
    expect(await shadowStats(g)).toMatchObject({ calls: 1, inFlight: 1, paused: 'CONCURRENCY' });
    for (let i = 0; i < 3; i++) await chat(g, `skipped ${i}`);
    expect(await shadowStats(g)).toMatchObject({
      selected: 4,
      calls: 1,
      skipped: { concurrency: 3, budget: 0, noArm: 0, total: 3 },
      paused: 'CONCURRENCY',
    });

    const opened = gate;
    gate = deferred();
    opened.resolve();
    await expect.poll(async () => (await shadowStats(g)).completed).toBe(1);
    expect((await shadowStats(g)).paused).toBeNull();
    await chat(g, 'shadowed again');
    expect(await shadowStats(g)).toMatchObject({ calls: 2, inFlight: 1 });
    gate.resolve();
  });

  it('pauses once the spend of the last minute reaches the budget, and counts the skips', async () => {
    const g = await start(twoArmConfig({ budgetUsdPerMinute: 1e-6 }));
    await chat(g, 'first');
    await expect.poll(async () => (await shadowStats(g)).completed).toBe(1);
    const afterFirst = await shadowStats(g);
    expect(afterFirst.spendLastMinuteUsd).toBeGreaterThanOrEqual(1e-6);
    expect(afterFirst.paused).toBe('BUDGET');

    for (let i = 0; i < 5; i++) await chat(g, `over budget ${i}`);
    const stats = await shadowStats(g);
    expect(stats).toMatchObject({ selected: 6, calls: 1, skipped: { budget: 5, concurrency: 0, total: 5 } });
    expect(stats.spendUsd).toBe(afterFirst.spendUsd);
  });
});

describe('comparisons', () => {
  it('move both posteriors as one quality feedback each, and a second comparison replaces the first', async () => {
    const g = await start(twoArmConfig({}));
    const outcome = await chat(g, 'compare us');
    await expect
      .poll(async () => (await g.client.request(ShadowCallDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken })).shadowCall?.status)
      .toBe('COMPLETED');
    const posteriorOf = async (id: string) =>
      (await g.client.request(ArmsDocument, { context: outcome.context })).arms.find((a) => a.id === id)!.posterior;
    const primaryBefore = await posteriorOf('primary');
    const candidateBefore = await posteriorOf('candidate');
    const w = g.config.reward.quality;

    const shadowWins = (
      await g.client.request(SubmitComparisonDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken, preferred: 'SHADOW' })
    ).submitComparison;
    expect(shadowWins.context).toBe(outcome.context);
    expect(shadowWins.shadowArm.posterior.alpha - candidateBefore.alpha).toBeCloseTo(w, 9);
    expect(shadowWins.shadowArm.posterior.beta).toBeCloseTo(candidateBefore.beta, 9);
    expect(shadowWins.primaryArm.posterior.beta - primaryBefore.beta).toBeCloseTo(w, 9);
    expect(shadowWins.primaryArm.posterior.alpha).toBeCloseTo(primaryBefore.alpha, 9);
    expect(shadowWins.shadowArm.posterior.mean).toBeGreaterThan(shadowWins.primaryArm.posterior.mean);

    // Replaced, not added: a tie leaves each arm half a success and half a failure above where it began.
    await g.client.request(SubmitComparisonDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken, preferred: 'TIE' });
    for (const [id, before] of [
      ['primary', primaryBefore],
      ['candidate', candidateBefore],
    ] as const) {
      const after = await posteriorOf(id);
      expect(after.alpha - before.alpha).toBeCloseTo(w / 2, 9);
      expect(after.beta - before.beta).toBeCloseTo(w / 2, 9);
    }
    const stats = await shadowStats(g);
    expect(stats.comparisons).toBe(1);
    expect(stats.arms.find((a) => a.arm === 'candidate')).toMatchObject({
      comparisons: 1,
      ties: 1,
      shadowPreferred: 0,
      primaryPreferred: 0,
    });
    expect((await g.client.request(ShadowCallDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken })).shadowCall?.comparison).toBe(
      'TIE',
    );
  });

  it('keeps the verdict figures with the learnt state: a restart from the state file still shows them', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'switchyard-shadow-')), 'router-state.json');
    const config = twoArmConfig({});
    (config as { router?: unknown }).router = { stateFile };
    const g = await start(config);
    const outcome = await chat(g, 'compare us, then restart');
    await expect
      .poll(async () => (await g.client.request(ShadowCallDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken })).shadowCall?.status)
      .toBe('COMPLETED');
    await g.client.request(SubmitComparisonDocument, { requestId: outcome.requestId, feedbackToken: outcome.feedbackToken, preferred: 'SHADOW' });
    await g.close();
    gateway = null;
    const restarted = await start(config);
    const stats = await shadowStats(restarted);
    expect(stats.comparisons).toBe(1);
    expect(stats.calls).toBe(0);
    expect(stats.arms.find((a) => a.arm === 'candidate')).toMatchObject({ calls: 0, comparisons: 1, shadowPreferred: 1 });
  });

  it('refuses comparisons with a code when there is nothing to compare', async () => {
    const g = await start(twoArmConfig({}));
    const pinned = await chat(g, 'pinned, so not shadowed', 'primary');
    const refused = (requestId: string, feedbackToken = 'a'.repeat(32)) =>
      g.client.request(SubmitComparisonDocument, { requestId, feedbackToken, preferred: 'PRIMARY' });
    await expect(refused(pinned.requestId, pinned.feedbackToken)).rejects.toMatchObject({ errors: [{ extensions: { code: 'NO_SHADOW' } }] });
    await expect(refused('unknown')).rejects.toMatchObject({
      errors: [{ extensions: { code: 'REQUEST_NOT_FOUND' } }],
    });
  });
});
