import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ChatDocument, type ChatSubscription } from '../../src/client/generated/graphql.js';
import { createRng } from '../../src/router/random.js';
import { postGraphQL, startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

/**
 * Issue 14: "300 pinned chats with lying feedback from one client: honest users' satisfaction fell
 * from 0.79 to 0.51: traffic moved to the weakest arm". The same attack, measured three ways on
 * one seed: no attack, the attack on the default configuration (the defence is on by default:
 * feedback.clientShareCap 0.2, feedback.ignorePinnedFeedback), and the attack on a gateway that
 * opted out of it (cap 1, pinned feedback teaching).
 *
 * Honest users: 20 clients (20 loopback addresses, since clients are told apart by address), each
 * routed, liking an answer with its model's quality (weak 0.3, fair 0.5, good 0.7, best 0.9; one
 * seeded RNG). The attacker, one more address, pins 150 chats to the weakest arm and says UP, and
 * 150 to the best and says DOWN. Satisfaction is the share of honest answers liked in the 300
 * routed chats after the attack. Over 300 Bernoulli answers its standard error is at most
 * sqrt(0.25 / 300) = 0.029; the asserted gaps are 0.15 (over 5 standard errors of a difference).
 */

type ChatEvent = ChatSubscription['chat'];
const CHAT = print(ChatDocument);
const QUALITY: Record<string, number> = { weak: 0.3, fair: 0.5, good: 0.7, best: 0.9 };

function clientFrom(url: string, address: string): Client {
  class FromAddress extends WebSocket {
    constructor(target: string, protocols?: string | string[]) {
      super(target, protocols, { localAddress: address });
    }
  }
  return createClient({ url, webSocketImpl: FromAddress, retryAttempts: 0, lazy: false });
}

async function once(client: Client, query: string, variables: Record<string, unknown>) {
  for await (const result of client.iterate({ query, variables })) {
    if (result.errors?.length) throw new Error(JSON.stringify(result.errors));
    return result.data as Record<string, unknown>;
  }
  throw new Error('no result');
}

const FEEDBACK = 'mutation ($input: FeedbackInput!) { submitFeedback(input: $input) { learned } }';

async function chatAndJudge(client: Client, content: string, arm: string | undefined, liked: (arm: string) => boolean) {
  let route: Extract<ChatEvent, { __typename: 'ChatRoute' }> | null = null;
  for await (const result of client.iterate({ query: CHAT, variables: { input: { messages: [{ role: 'USER', content }], arm, cache: false } } })) {
    if (result.errors?.length) throw new Error(JSON.stringify(result.errors));
    const event = (result.data as ChatSubscription).chat;
    if (event.__typename === 'ChatRoute') route = event;
  }
  const up = liked(route!.arm);
  const answer = await once(client, FEEDBACK, { input: { requestId: route!.requestId, feedbackToken: route!.feedbackToken, thumbs: up ? 'UP' : 'DOWN' } });
  return { arm: route!.arm, up, learned: (answer.submitFeedback as { learned: boolean }).learned };
}

interface Result {
  readonly satisfaction: number;
  readonly weakShare: number;
  /** The attacker's feedbacks that taught at some weight, and the index of the first refused (-1: none). */
  readonly attackerLearned?: number;
  readonly attackerStoppedAt?: number;
}

let gateway: RunningGateway | null = null;
const clients: Client[] = [];
/** Clients first: a gateway closing under open sockets would make them report the close. */
async function stop() {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
  await gateway?.close();
  gateway = null;
}
afterEach(stop);

/**
 * A gateway with the given feedback settings, 20 honest clients and one attacker address; `honestChat`
 * routes the next honest question and judges it with its model's quality (one seeded RNG).
 */
async function startPopulation(feedback: Record<string, unknown>, analyzer: Record<string, unknown> = {}) {
  gateway = await startGateway({
    config: testConfigInput({
      cache: { enabled: false },
      shadow: { rate: 0 },
      // Measured latency enters the reward; on a loaded machine its jitter would make the runs
      // route differently for reasons unrelated to feedback. Without it every run is fixed by its seeds.
      reward: { latency: 0 },
      feedback,
      analyzer,
    }),
  });
  const honest = Array.from({ length: 20 }, (_, i) => clientFrom(gateway!.wsUrl, `127.0.0.${10 + i}`));
  const attacker = clientFrom(gateway.wsUrl, '127.0.0.2');
  clients.push(...honest, attacker);
  const rng = createRng(2024);
  const honestly = (arm: string) => rng() < QUALITY[arm]!;
  let n = 0;
  const honestChat = () => chatAndJudge(honest[n % honest.length]!, `question ${n++}`, undefined, honestly);
  return { attacker, honestChat };
}

/** The defences opted out of; the default configuration has them on. */
const UNDEFENDED = { clientShareCap: 1, ignorePinnedFeedback: false, ignoreFlaggedClients: false };

async function run(options: { attack: boolean; defence: boolean }): Promise<Result> {
  const { attacker, honestChat } = await startPopulation(options.defence ? {} : UNDEFENDED);
  for (let i = 0; i < 150; i++) await honestChat();
  if (options.attack) {
    for (let i = 0; i < 300; i++) {
      const target = i % 2 === 0 ? 'weak' : 'best';
      await chatAndJudge(attacker, `attack ${i}`, target, () => target === 'weak');
    }
  }
  const measured = [];
  for (let i = 0; i < 300; i++) measured.push(await honestChat());
  return {
    satisfaction: measured.filter((m) => m.up).length / measured.length,
    weakShare: measured.filter((m) => m.arm === 'weak').length / measured.length,
  };
}

describe('feedback poisoning by one client', { timeout: 240_000 }, () => {
  it('moves traffic to the weakest arm without the defence, and not with the default configuration', async () => {
    const baseline = await run({ attack: false, defence: true });
    await stop();
    const undefended = await run({ attack: true, defence: false });
    await stop();
    const defended = await run({ attack: true, defence: true });
    const line = (name: string, r: Result) => `${name}: satisfaction ${r.satisfaction.toFixed(3)}, weakest arm's share ${r.weakShare.toFixed(3)}`;
    console.log(['feedback poisoning', line('no attack', baseline), line('attack, opted out', undefended), line('attack, defaults', defended)].join('\n  '));

    expect(undefended.satisfaction).toBeLessThan(baseline.satisfaction - 0.15);
    expect(undefended.weakShare).toBeGreaterThan(defended.weakShare + 0.15);
    expect(defended.satisfaction).toBeGreaterThan(undefended.satisfaction + 0.15);
    // The defence costs the honest users nothing measurable: within 4 standard errors of a difference (0.16).
    expect(defended.satisfaction).toBeGreaterThan(baseline.satisfaction - 0.16);
  });
});

/**
 * The analyzer's flag (src/analyzer/feedback-disagreement.ts), end to end: 5 honest clients
 * (liking an answer with its model's quality, as above) each rate every arm 10 times, then the
 * attacker's 60 pinned chats (30 UP to the weakest arm, 30 DOWN to the best). The attacker has 30 feedbacks on the best arm, which the others rate ~90% positive:
 * Fisher's p-value is about 0.1^30, so it is flagged; an honest client is flagged with probability
 * at most 0.001 (the unit test measures that rate), so none of the 5 is.
 */
describe('the analyzer flags the client whose feedback disagrees', { timeout: 120_000 }, () => {
  it('names the attacker in disagreeingClients and counts it in /metrics', async () => {
    gateway = await startGateway({
      config: testConfigInput({
        cache: { enabled: false },
        shadow: { rate: 0 },
        reward: { latency: 0 },
        analyzer: { disagreement: { intervalMs: 300 } },
      }),
    });
    const honest = Array.from({ length: 5 }, (_, i) => clientFrom(gateway!.wsUrl, `127.0.0.${10 + i}`));
    const attacker = clientFrom(gateway.wsUrl, '127.0.0.2');
    clients.push(...honest, attacker);
    const rng = createRng(2024);
    // Each honest client rates every arm 10 times (pinned, as an evaluation would: honest feedback
    // on every arm, where routing alone would mostly try one), so each is tested on four arms.
    const arms = Object.keys(QUALITY);
    for (let round = 0; round < 10 * arms.length; round++) {
      await Promise.all(honest.map((client, c) => chatAndJudge(client, `question ${round}.${c}`, arms[(round + c) % arms.length], (arm) => rng() < QUALITY[arm]!)));
    }

    const QUERY = '{ disagreeingClients { clientsTested falsePositiveRate flagged { client pValue cellsTested worst { arm clientPositive clientFeedbacks othersPositive othersFeedbacks } } } }';
    type View = { clientsTested: number; flagged: Array<{ client: string; pValue: number; worst: { arm: string; clientFeedbacks: number } }> };
    const read = async () => ((await postGraphQL(gateway!.url, QUERY)).data as { disagreeingClients: View }).disagreeingClients;
    const before = await read();
    expect(before.flagged).toEqual([]);

    for (let i = 0; i < 60; i++) {
      const target = i % 2 === 0 ? 'weak' : 'best';
      await chatAndJudge(attacker, `attack ${i}`, target, () => target === 'weak');
    }
    // The view is shared for intervalMs (feedback reads it too, for its weight): at most that stale,
    // then the attacker is in it with all its feedback.
    let view = await read();
    const deadline = Date.now() + 5_000;
    while (view.flagged[0]?.worst.clientFeedbacks !== 30 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      view = await read();
    }
    console.log(`disagreement e2e: ${view.clientsTested} clients tested, flagged ${JSON.stringify(view.flagged)}`);
    expect(view.flagged.map((f) => f.client)).toEqual(['anonymous@127.0.0.2']);
    expect(view.flagged[0]!.pValue).toBeLessThan(1e-6);
    expect(view.flagged[0]!.worst.clientFeedbacks).toBe(30);
    // The honest clients were tested too, on four arms each, and passed.
    expect(view.clientsTested).toBe(6);

    const metrics = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toMatch(/^switchyard_disagreeing_clients 1$/m);
  });
});

/**
 * The share cap and the disagreement flag, end to end, against a liar the pinned rule cannot stop: the attacker
 * is routed like everyone (no pin) and lies about whatever it got (UP to the weakest arm, DOWN to
 * any other), one chat for every honest one, so without a cap it gives half the feedback. The
 * arithmetic: at a share s of lies, the weakest arm's mean is (1 − s)·0.3 + s and the best's
 * (1 − s)·0.9; at s = 0.5 the weakest wins (0.65 against 0.45), at the cap's s ≤ 0.2 the best stays
 * best (0.72 against 0.44). Measured: the honest satisfaction and the weakest arm's share of honest
 * traffic over the 200 honest chats run beside the liar's, after 100 honest ones; 20 honest clients
 * as above, one seed. Standard error of a satisfaction over 200 answers ≤ 0.035; the asserted gap,
 * 0.15, is 3 standard errors of a difference. The flag (feedback.ignoreFlaggedClients, on by
 * default) then stops the liar's feedback from teaching at all once the analyzer names it.
 */
describe('the share cap and the disagreement flag against a routed liar', { timeout: 180_000 }, () => {
  async function runRouted(feedback: Record<string, unknown>, attack = true): Promise<Result> {
    // The liar pins nothing, so the pinned rule has nothing to refuse. The flags are computed on every
    // read rather than every 10 s: the run is 400 chats in seconds, not in the hours of a deployment,
    // and so it stays fixed by its seeds (no wall-clock interval decides when the flag appears).
    const { attacker, honestChat } = await startPopulation(feedback, { disagreement: { intervalMs: 0 } });
    for (let i = 0; i < 100; i++) await honestChat();
    const measured = [];
    const lies: Array<{ learned: boolean }> = [];
    for (let i = 0; i < 200; i++) {
      if (attack) lies.push(await chatAndJudge(attacker, `attack ${i}`, undefined, (arm) => arm === 'weak'));
      measured.push(await honestChat());
    }
    return {
      satisfaction: measured.filter((m) => m.up).length / measured.length,
      weakShare: measured.filter((m) => m.arm === 'weak').length / measured.length,
      attackerLearned: lies.filter((l) => l.learned).length,
      attackerStoppedAt: lies.findIndex((l, i) => !l.learned && lies.slice(i).every((later) => !later.learned)),
    };
  }

  it('moves traffic to the weakest arm without the cap, and not with the defaults (clientShareCap 0.2, flagged clients ignored)', async () => {
    const baseline = await runRouted({}, false);
    await stop();
    const undefended = await runRouted(UNDEFENDED);
    await stop();
    const capOnly = await runRouted({ ignoreFlaggedClients: false });
    await stop();
    const capped = await runRouted({});
    const line = (name: string, r: Result) =>
      `${name}: satisfaction ${r.satisfaction.toFixed(3)}, weakest arm's share ${r.weakShare.toFixed(3)}` +
      (r.attackerLearned ? `; the liar's feedbacks that taught: ${r.attackerLearned} of 200` : '');
    console.log(
      ['routed liar', line('no attack (defaults)', baseline), line('attack, opted out', undefended), line('attack, cap 0.2 alone', capOnly), line('attack, defaults', capped)].join('\n  '),
    );
    for (const defended of [capOnly, capped]) {
      expect(defended.satisfaction).toBeGreaterThan(undefended.satisfaction + 0.15);
      expect(undefended.weakShare).toBeGreaterThan(defended.weakShare + 0.15);
      expect(defended.satisfaction).toBeGreaterThan(baseline.satisfaction - 0.16);
    }
    // The cap alone bounds the liar, it does not silence it: every one of its feedbacks teaches, at
    // the weight that holds it to a fifth. The flag silences it once its lies are significant: with
    // minFeedback 10 on a cell, a few more than 10 of its 200 feedbacks, and none after.
    expect(capOnly.attackerLearned).toBe(200);
    expect(capped.attackerLearned).toBeLessThan(30);
    expect(capped.attackerStoppedAt).toBe(capped.attackerLearned);
  });
});
