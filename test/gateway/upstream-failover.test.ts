import { afterEach, describe, expect, it } from 'vitest';
import { AnalyzerDocument, ShadowCallDocument } from '../../src/client/generated/graphql.js';
import { countMessageTokens, countTokens } from '../../src/models/token-counter.js';
import { startFakeOpenAI, type FakeOpenAIScript, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { parsePrometheusText } from '../helpers/prometheus-text.js';
import {
  armsById,
  chat,
  closedPortUrl,
  modelsById,
  openaiModel,
  outcomeOf,
  type ChatOutcome,
  twoModelConfig,
  USER_MESSAGE,
} from '../helpers/upstream.js';

/**
 * Two OpenAI-format models behind real local servers: routing, streaming, usage-based cost, and
 * what the client sees and the bandit learns for each upstream fault.
 */

// Each server answers with its own words, so a spliced answer would show.
const TOKENS = { a: ['Alpha', ' one', ' two', ' three'], b: ['Bravo', ' four', ' five', ' six'] } as const;
type ArmId = keyof typeof TOKENS;
/** How long the circuit test's breaker stays open. */
const CIRCUIT_OPEN_MS = 2_500;
const other = (arm: ArmId): ArmId => (arm === 'a' ? 'b' : 'a');

let fakes: Record<ArmId, FakeOpenAIServer> | undefined;
let gateway: RunningGateway | undefined;

afterEach(async () => {
  await gateway?.close();
  await Promise.all(Object.values(fakes ?? {}).map((fake) => fake.close()));
  gateway = undefined;
  fakes = undefined;
});

type Overrides = Record<string, unknown>;

async function start(
  overrides: Overrides | ((urls: Record<ArmId, string>) => Overrides) = {},
): Promise<{ fakes: Record<ArmId, FakeOpenAIServer>; gateway: RunningGateway }> {
  fakes = { a: await startFakeOpenAI({ script: { tokens: TOKENS.a } }), b: await startFakeOpenAI({ script: { tokens: TOKENS.b } }) };
  const urls = { a: fakes.a.url, b: fakes.b.url };
  const resolved = typeof overrides === 'function' ? overrides(urls) : overrides;
  gateway = await startGateway({ config: twoModelConfig(urls.a, urls.b, resolved) });
  return { fakes, gateway };
}

/**
 * The first upstream request, whichever server the bandit picks, gets `fault`; every later request
 * is answered normally. Returns the arm whose server took the fault.
 */
function faultFirstRequest(servers: Record<ArmId, FakeOpenAIServer>, fault: FakeOpenAIScript): () => ArmId | undefined {
  let faulted: ArmId | undefined;
  for (const arm of ['a', 'b'] as const) {
    servers[arm].setScript(() => {
      if (faulted === undefined) {
        faulted = arm;
        return { ...fault, tokens: TOKENS[arm] };
      }
      return { tokens: TOKENS[arm] };
    });
  }
  return () => faulted;
}

describe('two openai models behind local servers', () => {
  it('routes, streams the provider tokens and prices the provider-reported usage', async () => {
    const { fakes, gateway } = await start();
    for (const arm of ['a', 'b'] as const) {
      const { route, text, terminal } = outcomeOf(await chat(gateway, { arm }));
      expect(route).toMatchObject({ arm, model: `m-${arm}`, attempts: 1, cached: false });
      expect(text).toBe(TOKENS[arm].join(''));
      if (terminal.__typename !== 'ChatDone') throw new Error(`expected done, got ${JSON.stringify(terminal)}`);
      // The fake reports prompt_tokens 12 and one completion token per piece.
      expect(terminal.metrics).toMatchObject({ promptTokens: 12, completionTokens: 4, tokensEstimated: false });
      // Configured prices: 0.0005 USD / 1k input, 0.0015 USD / 1k output.
      expect(terminal.metrics.costUsd).toBeCloseTo((12 * 0.0005 + 4 * 0.0015) / 1000, 15);
      expect(terminal).toMatchObject({ attempts: 1, finishReason: 'stop' });
      const sent = fakes[arm].requests.at(-1)!;
      expect(sent.body).toMatchObject({
        model: `m-${arm}-at-provider`,
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: USER_MESSAGE }],
      });
    }
    // Unpinned requests reach both servers' answers only through the router, never mixed.
    for (let i = 0; i < 4; i++) {
      const { route, text } = outcomeOf(await chat(gateway));
      expect(text).toBe(TOKENS[route.arm as ArmId].join(''));
    }
  });

  it('counts tokens with the tokenizer when the provider reports no usage, and says so', async () => {
    const { fakes, gateway } = await start();
    fakes.a.setScript({ tokens: TOKENS.a, omitUsage: true });
    const { text, terminal } = outcomeOf(await chat(gateway, { arm: 'a' }));
    if (terminal.__typename !== 'ChatDone') throw new Error(`expected done, got ${JSON.stringify(terminal)}`);
    const promptTokens = await countMessageTokens([{ role: 'user', content: USER_MESSAGE }]);
    const completionTokens = await countTokens(text);
    expect(terminal.metrics).toMatchObject({ promptTokens, completionTokens, tokensEstimated: true });
    expect(terminal.metrics.costUsd).toBeCloseTo((promptTokens * 0.0005 + completionTokens * 0.0015) / 1000, 15);
  });
});

describe('failover before the first token', () => {
  const faults: Array<[string, FakeOpenAIScript, string]> = [
    ['HTTP 500', { status: 500 }, 'UPSTREAM_HTTP_ERROR'],
    ['a stall before the first token', { fault: { kind: 'stall', afterTokens: 0 } }, 'UPSTREAM_FIRST_TOKEN_TIMEOUT'],
    ['a connection dropped before the first token', { fault: { kind: 'destroy', afterTokens: 0 } }, 'UPSTREAM_CONNECTION_ERROR'],
    ['a malformed SSE line', { fault: { kind: 'malformed', afterTokens: 0 } }, 'UPSTREAM_PROTOCOL_ERROR'],
    ['an error object in the stream', { fault: { kind: 'error-object', afterTokens: 0 } }, 'UPSTREAM_ERROR'],
  ];

  it.each(faults)('%s: the client gets one clean stream from the next arm; the bandit penalises the failed one', async (_name, fault, code) => {
    const { fakes, gateway } = await start();
    const faulted = faultFirstRequest(fakes, fault);
    const { route, text, terminal } = outcomeOf(await chat(gateway));
    const failed = faulted()!;
    const served = other(failed);
    expect(route).toMatchObject({ arm: served, model: `m-${served}`, attempts: 2 });
    expect(text).toBe(TOKENS[served].join(''));
    expect(terminal).toMatchObject({ __typename: 'ChatDone', attempts: 2 });
    expect(fakes[failed].requests).toHaveLength(1);
    expect(fakes[served].requests).toHaveLength(1);

    // The failed arm: one pull and one failure (+1 on beta, prior Beta(1, 1)); the served arm: a
    // pull and no quality evidence (a success says nothing about quality until feedback).
    const arms = await armsById(gateway);
    expect(arms.get(failed)).toMatchObject({ pulls: 1, posterior: { alpha: 1, beta: 2 } });
    expect(arms.get(served)).toMatchObject({ pulls: 1, posterior: { alpha: 1, beta: 1 } });
    const models = await modelsById(gateway);
    expect(models.get(`m-${failed}`)).toMatchObject({ requests: 1, failures: 1, consecutiveFailures: 1 });
    expect(models.get(`m-${served}`)).toMatchObject({ requests: 1, failures: 0 });

    // The same fault on a pinned arm has nowhere to fail over to: the client sees its code.
    fakes[failed].enqueue({ ...fault, tokens: TOKENS[failed] });
    const pinned = outcomeOf(await chat(gateway, { arm: failed }));
    expect(pinned.route).toMatchObject({ arm: failed, attempts: 1 });
    expect(pinned.chunks).toBe(0);
    expect(pinned.terminal).toMatchObject({ __typename: 'ChatError', code, partial: false, attempts: 1 });
  });

  it('connection refused: the request is served by the other arm and the refused one is penalised', async () => {
    fakes = { a: await startFakeOpenAI(), b: await startFakeOpenAI({ script: { tokens: TOKENS.b } }) };
    await fakes.a.close();
    const config = twoModelConfig(await closedPortUrl(), fakes.b.url);
    gateway = await startGateway({ config });
    // Until it fails once, Thompson sampling picks the refused arm with probability 1/2 per request
    // (both posteriors are Beta(1, 1)); 30 requests all missing it has probability 2^-30.
    let failedOver = false;
    for (let i = 0; i < 30 && !failedOver; i++) {
      const { route, text, terminal } = outcomeOf(await chat(gateway));
      expect(route.arm).toBe('b');
      expect(text).toBe(TOKENS.b.join(''));
      expect(terminal.__typename).toBe('ChatDone');
      failedOver = route.attempts === 2;
    }
    expect(failedOver).toBe(true);
    const arms = await armsById(gateway);
    expect(arms.get('a')).toMatchObject({ pulls: 1, posterior: { alpha: 1, beta: 2 } });
    const models = await modelsById(gateway);
    expect(models.get('m-a')).toMatchObject({ failures: 1 });

    const pinned = outcomeOf(await chat(gateway, { arm: 'a' }));
    expect(pinned.terminal).toMatchObject({ code: 'UPSTREAM_CONNECTION_ERROR', partial: false, attempts: 1 });
  });

  it('429 with Retry-After: fails over, shows retryAfter, and skips the model until it passes', async () => {
    const { fakes, gateway } = await start();
    const faulted = faultFirstRequest(fakes, { status: 429, retryAfter: '30', errorMessage: 'Rate limit reached' });
    const first = outcomeOf(await chat(gateway));
    const limited = faulted()!;
    const served = other(limited);
    expect(first.route).toMatchObject({ arm: served, attempts: 2 });
    expect(first.terminal.__typename).toBe('ChatDone');

    const models = await modelsById(gateway);
    const retryAfter = Date.parse(models.get(`m-${limited}`)!.retryAfter!);
    // 30 s from when the 429 arrived, which was moments ago.
    expect(retryAfter - Date.now()).toBeGreaterThan(20_000);
    expect(retryAfter - Date.now()).toBeLessThanOrEqual(30_000);
    expect(models.get(`m-${served}`)!.retryAfter).toBeNull();

    for (let i = 0; i < 5; i++) {
      const { route } = outcomeOf(await chat(gateway));
      expect(route).toMatchObject({ arm: served, attempts: 1 });
    }
    expect(fakes[limited].requests).toHaveLength(1);
    // Pinned to it, the client is told at once rather than the provider being asked again.
    const pinned = outcomeOf(await chat(gateway, { arm: limited }));
    expect(pinned.terminal).toMatchObject({ code: 'MODEL_UNAVAILABLE', partial: false });
    expect(fakes[limited].requests).toHaveLength(1);
    // Refusing a call is not new evidence against the arm: still the one failure.
    expect((await armsById(gateway)).get(limited)!.posterior.beta).toBe(2);
  });

  it('gives up after router.maxAttempts with the last failure, naming the last arm tried', async () => {
    const { fakes, gateway } = await start({ router: { maxAttempts: 2 } });
    fakes.a.setScript({ status: 503 });
    fakes.b.setScript({ status: 503 });
    const { route, chunks, terminal } = outcomeOf(await chat(gateway));
    expect(route.attempts).toBe(2);
    expect(chunks).toBe(0);
    expect(terminal).toMatchObject({ __typename: 'ChatError', code: 'UPSTREAM_HTTP_ERROR', partial: false, attempts: 2 });
    expect(fakes.a.requests.length + fakes.b.requests.length).toBe(2);
    const arms = await armsById(gateway);
    for (const arm of ['a', 'b']) expect(arms.get(arm)).toMatchObject({ pulls: 1, posterior: { beta: 2 } });
  });
});

describe('a request the provider refuses as invalid', () => {
  // OpenAI's answer to a prompt past the context window: HTTP 400, invalid_request_error.
  const CONTEXT_WINDOW = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9001 tokens.";

  it('teaches the bandit nothing and is not failed over; a genuine 500 still teaches', async () => {
    const { fakes, gateway } = await start();
    const before = await armsById(gateway);

    // Unpinned: whichever arm the bandit picks refuses; the request is not tried on the other
    // (it would most likely refuse it too) and the client gets the provider's reason.
    const faulted = faultFirstRequest(fakes, { status: 400, errorType: 'invalid_request_error', errorMessage: CONTEXT_WINDOW });
    const unpinned = outcomeOf(await chat(gateway));
    const refusing = faulted()!;
    expect(unpinned.route).toMatchObject({ arm: refusing, attempts: 1 });
    expect(unpinned.chunks).toBe(0);
    expect(unpinned.terminal).toMatchObject({ __typename: 'ChatError', code: 'UPSTREAM_HTTP_ERROR', partial: false, attempts: 1 });
    expect(unpinned.terminal.__typename === 'ChatError' && unpinned.terminal.message).toContain('maximum context length');
    expect(fakes[other(refusing)].requests).toHaveLength(0);

    // Pinned, 413 and 422 alike.
    for (const status of [413, 422]) {
      fakes[refusing].enqueue({ status, errorMessage: CONTEXT_WINDOW, tokens: TOKENS[refusing] });
      const pinned = outcomeOf(await chat(gateway, { arm: refusing }));
      expect(pinned.terminal).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', partial: false, attempts: 1 });
    }
    expect(fakes[refusing].requests).toHaveLength(3);

    // Three pulls, and the posterior and reward mean exactly where they were (prior Beta(1, 1)).
    const after = await armsById(gateway);
    const { pulls: pullsBefore, ...figuresBefore } = before.get(refusing)!;
    const { pulls: pullsAfter, ...figuresAfter } = after.get(refusing)!;
    expect(pullsAfter - pullsBefore).toBe(3);
    expect(figuresAfter).toEqual(figuresBefore);
    expect(figuresAfter.posterior).toMatchObject({ alpha: 1, beta: 1 });
    expect(after.get(other(refusing))).toEqual(before.get(other(refusing)));

    // A genuine upstream failure of the same arm is a failed pull: +1 on beta.
    fakes[refusing].enqueue({ status: 500, tokens: TOKENS[refusing] });
    const failed = outcomeOf(await chat(gateway, { arm: refusing }));
    expect(failed.terminal).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', partial: false, attempts: 1 });
    expect((await armsById(gateway)).get(refusing)).toMatchObject({ pulls: pullsBefore + 4, posterior: { alpha: 1, beta: 2 } });
  });

  it("counts apart from the errors in the analyzer and /metrics: one caller's bad requests raise no error rate", async () => {
    const { fakes, gateway } = await start();
    fakes.a.enqueue(...[400, 413, 422].map((status) => ({ status, errorMessage: CONTEXT_WINDOW, tokens: TOKENS.a })));
    for (let i = 0; i < 3; i++) expect(outcomeOf(await chat(gateway, { arm: 'a' })).terminal).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR' });
    expect(outcomeOf(await chat(gateway, { arm: 'a' })).terminal.__typename).toBe('ChatDone');
    fakes.a.enqueue({ status: 500, tokens: TOKENS.a });
    expect(outcomeOf(await chat(gateway, { arm: 'a' })).terminal).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR' });

    const { analyzer } = await gateway.client.request(AnalyzerDocument, {});
    const figures = analyzer.arms.find((arm) => arm.arm === 'a')!.windows.sinceStart;
    // The rate is over the two requests the model answered or failed.
    expect(figures).toMatchObject({ requests: 5, errors: 1, refused: 3, errorRate: 0.5 });
    expect(analyzer.models.find((model) => model.model === 'm-a')!.windows.sinceStart).toMatchObject({ refused: 3, errorRate: 0.5 });

    const response = await fetch(gateway.url.replace(/\/graphql$/, '/metrics'));
    const families = parsePrometheusText(await response.text());
    const total = (name: string) =>
      families.get(name)!.samples.filter((sample) => sample.labels.arm === 'a').reduce((sum, sample) => sum + sample.value, 0);
    expect(total('switchyard_request_refusals_total')).toBe(3);
    expect(total('switchyard_request_errors_total')).toBe(1);
    expect(total('switchyard_requests_total')).toBe(5);
  });

  it('a shadow call refused so teaches the shadow arm nothing either; a genuine 500 in shadow still teaches', async () => {
    // "b" only shadows (disabled for routing): every unpinned chat is served by "a" and shadowed on "b".
    const { fakes, gateway } = await start({
      arms: [
        { id: 'a', model: 'm-a' },
        { id: 'b', model: 'm-b', enabled: false },
      ],
      shadow: { rate: 1, arm: 'b', seed: 1 },
      // Contexts learn alone: the context's posterior moves by exactly the evidence it receives.
      bandit: { seed: 11, halfLife: 0, hierarchyStrength: 0 },
    });
    const shadowCall = async (route: ChatOutcome['route'], terminal: ChatOutcome['terminal']) => {
      const variables = { requestId: terminal.__typename === 'ChatDone' ? terminal.requestId : '', feedbackToken: route.feedbackToken };
      let call;
      await expect
        .poll(async () => (call = (await gateway.client.request(ShadowCallDocument, variables)).shadowCall)?.status)
        .toBe('FAILED');
      return call!;
    };
    const shadowArm = async (context: string) => (await armsById(gateway, context)).get('b')!;

    fakes.b.enqueue({ status: 400, errorType: 'invalid_request_error', errorMessage: CONTEXT_WINDOW });
    const refused = outcomeOf(await chat(gateway));
    expect(refused.route).toMatchObject({ arm: 'a' });
    expect(refused.terminal.__typename).toBe('ChatDone');
    expect(await shadowCall(refused.route, refused.terminal)).toMatchObject({ errorCode: 'UPSTREAM_HTTP_ERROR' });
    expect(fakes.b.requests).toHaveLength(1);
    // No pull (a shadow call never has one) and the posterior at its prior: nothing learnt.
    expect(await shadowArm(refused.route.context)).toMatchObject({ pulls: 0, posterior: { alpha: 1, beta: 1 } });

    fakes.b.enqueue({ status: 500 });
    const failed = outcomeOf(await chat(gateway));
    await shadowCall(failed.route, failed.terminal);
    expect(await shadowArm(failed.route.context)).toMatchObject({ pulls: 0, posterior: { alpha: 1, beta: 1 + gateway.config.reward.quality } });
  });
});

describe('failure after the first token', () => {
  const faults: Array<[string, FakeOpenAIScript, string]> = [
    ['a stall mid-stream', { fault: { kind: 'stall', afterTokens: 2 } }, 'UPSTREAM_IDLE_TIMEOUT'],
    ['a connection dropped mid-stream', { fault: { kind: 'destroy', afterTokens: 2 } }, 'UPSTREAM_CONNECTION_ERROR'],
    ['a malformed SSE line mid-stream', { fault: { kind: 'malformed', afterTokens: 2 } }, 'UPSTREAM_PROTOCOL_ERROR'],
    ['an error object mid-stream', { fault: { kind: 'error-object', afterTokens: 2 } }, 'UPSTREAM_ERROR'],
  ];

  it.each(faults)('%s: ChatError partial, no second model spliced in; the bandit penalises the arm', async (_name, fault, code) => {
    const { fakes, gateway } = await start();
    fakes.a.setScript({ ...fault, tokens: TOKENS.a });
    fakes.b.setScript({ ...fault, tokens: TOKENS.b });
    const { route, text, terminal } = outcomeOf(await chat(gateway));
    const arm = route.arm as ArmId;
    expect(route.attempts).toBe(1);
    expect(text).toBe(TOKENS[arm].slice(0, 2).join(''));
    expect(terminal).toMatchObject({ __typename: 'ChatError', code, partial: true, attempts: 1 });
    expect(fakes[other(arm)].requests).toHaveLength(0);

    const arms = await armsById(gateway);
    expect(arms.get(arm)).toMatchObject({ pulls: 1, posterior: { alpha: 1, beta: 2 } });
    expect(arms.get(other(arm))).toMatchObject({ pulls: 0, posterior: { alpha: 1, beta: 1 } });
    expect((await modelsById(gateway)).get(`m-${arm}`)).toMatchObject({ failures: 1 });
  });
});

describe('circuit breaker', () => {
  it('does not count requests the provider refuses as invalid (400, 413, 422): one caller cannot open it for all', async () => {
    const { fakes, gateway } = await start();
    const refusals = [400, 413, 422, 400, 400].map((status) => ({ status, errorMessage: "This model's maximum context length is 8192 tokens" }));
    fakes.a.enqueue(...refusals);
    for (let i = 0; i < refusals.length; i++) {
      const { terminal } = outcomeOf(await chat(gateway, { arm: 'a' }));
      expect(terminal).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', partial: false });
    }
    // Past failureThreshold (3) refusals, the model is still closed and serves the next request.
    expect((await modelsById(gateway)).get('m-a')).toMatchObject({ status: 'HEALTHY', consecutiveFailures: 0, failures: 0 });
    const served = outcomeOf(await chat(gateway, { arm: 'a' }));
    expect(served.terminal.__typename).toBe('ChatDone');
    expect(fakes.a.requests).toHaveLength(refusals.length + 1);
  });

  it('opens after repeated failures, is skipped by the router, and closes after a half-open probe', async () => {
    // circuit: failureThreshold 3; openMs long enough that the circuit cannot half-open while this
    // test still expects it open, even on a loaded machine, yet short enough to wait for.
    const { fakes, gateway } = await start((urls) => ({
      models: [
        openaiModel('m-a', urls.a, { circuit: { failureThreshold: 3, openMs: CIRCUIT_OPEN_MS } }),
        openaiModel('m-b', urls.b, { circuit: { failureThreshold: 3, openMs: CIRCUIT_OPEN_MS } }),
      ],
    }));
    fakes.a.setScript({ status: 500 });
    for (let i = 0; i < 3; i++) {
      const { terminal } = outcomeOf(await chat(gateway, { arm: 'a' }));
      expect(terminal).toMatchObject({ code: 'UPSTREAM_HTTP_ERROR', partial: false });
    }
    let models = await modelsById(gateway);
    expect(models.get('m-a')).toMatchObject({ status: 'OPEN', consecutiveFailures: 3, failures: 3 });

    // Open: the router does not offer arm a, whatever its sample would have been.
    for (let i = 0; i < 6; i++) {
      expect(outcomeOf(await chat(gateway)).route).toMatchObject({ arm: 'b', attempts: 1 });
    }
    const pinned = outcomeOf(await chat(gateway, { arm: 'a' }));
    expect(pinned.terminal).toMatchObject({ code: 'MODEL_UNAVAILABLE', partial: false });
    expect(fakes.a.requests).toHaveLength(3);

    // After openMs one probe is let through; while it is in flight, other requests avoid the model.
    await expect.poll(async () => (await modelsById(gateway)).get('m-a')!.status, { timeout: CIRCUIT_OPEN_MS + 10_000, interval: 50 }).toBe('HALF_OPEN');
    fakes.a.setScript({ tokens: TOKENS.a, firstTokenDelayMs: 300 });
    const probe = chat(gateway, { arm: 'a' });
    await expect.poll(() => fakes.a.requests.length, { timeout: 2_000, interval: 10 }).toBe(4);
    expect(outcomeOf(await chat(gateway)).route).toMatchObject({ arm: 'b', attempts: 1 });
    const probed = outcomeOf(await probe);
    expect(probed.terminal.__typename).toBe('ChatDone');
    expect(probed.text).toBe(TOKENS.a.join(''));

    models = await modelsById(gateway);
    // Closed again; the error-rate average (3 failures, 1 success) still reads degraded.
    expect(models.get('m-a')).toMatchObject({ status: 'DEGRADED', consecutiveFailures: 0 });
    expect(fakes.a.requests).toHaveLength(4);
  });
});
