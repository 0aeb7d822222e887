import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextChain, GLOBAL_CONTEXT } from '../../src/router/bandit.js';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';
import { chatOn, graphql, inParallel, replicaConfig, untilAllShow, type ArmFigures, type Served } from '../helpers/replicas.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';

/**
 * Comparisons on any replica: three real gateway processes over one real redis-server, every
 * routed chat shadowed, all chats served by replica A, their comparisons sent to B and C (some
 * twice at once, on both). Every replica ends with the same arms and the same comparison figures,
 * exactly what the accepted comparisons imply.
 */

const ARMS = ['weak', 'fair', 'best'];
const CHATS = 120;
const TAGS = [undefined, ['code'], ['code', 'python']];
type Preferred = 'PRIMARY' | 'SHADOW' | 'TIE';
const SCORES: Record<Preferred, [primary: number, shadow: number]> = { PRIMARY: [1, 0], SHADOW: [0, 1], TIE: [0.5, 0.5] };
const PREFERENCES: Preferred[] = ['PRIMARY', 'SHADOW', 'TIE'];

interface ShadowCall {
  readonly arm: string;
  readonly primaryArm: string;
  readonly context: string;
  readonly status: string;
  readonly comparison: Preferred | null;
}

type Refusal = string;
type ComparisonItem = { readonly request: Served; readonly preferred: Preferred };

/** A field per request (aliased), in one HTTP request per ten; returns each result or refusal by request id. */
async function batched<T>(
  replica: SwitchyardProcess,
  operation: 'query' | 'mutation',
  requests: readonly Served[],
  field: (request: Served) => string,
): Promise<Map<string, { data: T | null; refusal: Refusal | null }>> {
  const results = new Map<string, { data: T | null; refusal: Refusal | null }>();
  for (let start = 0; start < requests.length; start += 10) {
    const batch = requests.slice(start, start + 10);
    const { data, errors } = await graphql<Record<string, T | null>>(replica, `${operation} { ${batch.map((r, i) => `f${i}: ${field(r)}`).join(' ')} }`);
    batch.forEach((request, i) => {
      const error = errors?.find((e) => (e as { path?: string[] }).path?.[0] === `f${i}`);
      results.set(request.requestId, { data: data?.[`f${i}`] ?? null, refusal: error ? `${error.extensions?.code}: ${error.message}` : null });
    });
  }
  return results;
}

const shadowCalls = (replica: SwitchyardProcess, requests: readonly Served[]) =>
  batched<ShadowCall>(
    replica,
    'query',
    requests,
    (r) => `shadowCall(requestId: ${JSON.stringify(r.requestId)}, feedbackToken: ${JSON.stringify(r.feedbackToken)}) { arm primaryArm context status comparison }`,
  );

/** Comparisons on one replica; returns the refusals. */
async function compare(replica: SwitchyardProcess, items: readonly ComparisonItem[]): Promise<Refusal[]> {
  const byId = new Map(items.map((item) => [item.request.requestId, item.preferred]));
  const results = await batched<{ requestId: string }>(
    replica,
    'mutation',
    items.map((item) => item.request),
    (r) =>
      `submitComparison(requestId: ${JSON.stringify(r.requestId)}, preferred: ${byId.get(r.requestId)}, feedbackToken: ${JSON.stringify(r.feedbackToken)}) { requestId }`,
  );
  return [...results.values()].flatMap((r) => (r.refusal ? [r.refusal] : []));
}

/** The arms and comparison figures every replica must show: the primaries' pulls, each final verdict's scores on both arms, in the request's context chain. */
function expectedFigures(served: readonly Served[], shadowArmOf: ReadonlyMap<string, string>, final: ReadonlyMap<string, Preferred>) {
  const expected: Record<string, Record<string, ArmFigures>> = {};
  const figures = (context: string, arm: string) => {
    expected[context] ??= Object.fromEntries(ARMS.map((id) => [id, { pulls: 0, alpha: 1, beta: 1 }]));
    return expected[context]![arm] as { pulls: number; alpha: number; beta: number };
  };
  const tallies = new Map<string, { comparisons: number; shadowPreferred: number; primaryPreferred: number; ties: number }>();
  for (const request of served) {
    const shadowArm = shadowArmOf.get(request.requestId)!;
    const preferred = final.get(request.requestId);
    for (const context of contextChain(request.context)) {
      figures(context, request.arm).pulls += 1;
      if (!preferred) continue;
      const [primaryScore, shadowScore] = SCORES[preferred];
      for (const [arm, score] of [[request.arm, primaryScore], [shadowArm, shadowScore]] as const) {
        const f = figures(context, arm);
        f.alpha += score;
        f.beta += 1 - score;
      }
    }
    if (!preferred) continue;
    const tally = tallies.get(shadowArm) ?? { comparisons: 0, shadowPreferred: 0, primaryPreferred: 0, ties: 0 };
    tally.comparisons += 1;
    tally[preferred === 'SHADOW' ? 'shadowPreferred' : preferred === 'PRIMARY' ? 'primaryPreferred' : 'ties'] += 1;
    tallies.set(shadowArm, tally);
  }
  const arms = Object.fromEntries(
    [GLOBAL_CONTEXT, ...Object.keys(expected).filter((k) => k !== GLOBAL_CONTEXT).sort()].map((k) => [k, expected[k]!]),
  );
  const shadow = {
    comparisons: final.size,
    arms: [...tallies.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([arm, t]) => ({ arm, ...t })),
  };
  return { arms, shadow };
}

/** Polls `replica` until every request's shadow call shows as completed there; returns the calls. */
async function completedCalls(replica: SwitchyardProcess, requests: readonly Served[]) {
  let calls = await shadowCalls(replica, requests);
  for (let tries = 0; [...calls.values()].some((r) => r.data?.status !== 'COMPLETED') && tries < 200; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    calls = await shadowCalls(replica, requests);
  }
  for (const request of requests) {
    const call = calls.get(request.requestId)!;
    expect(call.refusal).toBeNull();
    expect(call.data).toMatchObject({ primaryArm: request.arm, context: request.context, status: 'COMPLETED' });
    expect(call.data!.arm).not.toBe(request.arm);
  }
  return calls;
}

const SHADOW_FIGURES = '{ shadow { comparisons arms { arm comparisons shadowPreferred primaryPreferred ties } } }';
type ShadowFigures = { comparisons: number; arms: Array<{ arm: string; comparisons: number; shadowPreferred: number; primaryPreferred: number; ties: number }> };

describe.skipIf(skipWithoutRedis())('three replicas sharing comparisons through Redis', () => {
  let redis: RedisServerHandle;
  let replicas: SwitchyardProcess[] = [];
  // Across both tests: what was served, each request's shadow arm, each compared request's last verdict.
  const served: Served[] = [];
  const shadowArmOf = new Map<string, string>();
  const final = new Map<string, Preferred>();

  /** Chats on replica A, all shadowed there; waits until `on` shows their shadow calls completed. */
  const chatsOnA = async (count: number, label: string, on: SwitchyardProcess) => {
    const batch: Served[] = [];
    await inParallel(
      Array.from({ length: count }, (_, i) => i),
      12,
      async (i) => {
        const request = await chatOn(replicas[0]!, 0, `${label} ${i}`, TAGS[i % TAGS.length]);
        expect(request).not.toBeNull();
        batch[i] = request!;
      },
    );
    const calls = await completedCalls(on, batch);
    for (const request of batch) shadowArmOf.set(request.requestId, calls.get(request.requestId)!.data!.arm);
    served.push(...batch);
    return batch;
  };

  /** Every replica ends with exactly the arms and comparison figures of what was accepted. */
  const expectAllAgree = async () => {
    const expected = expectedFigures(served, shadowArmOf, final);
    const shown = await untilAllShow(replicas, expected.arms, 30_000);
    for (const arms of shown) expect(arms).toEqual(expected.arms);
    for (const replica of replicas) {
      const { data } = await graphql<{ shadow: ShadowFigures }>(replica, SHADOW_FIGURES);
      const withComparisons = { ...data!.shadow, arms: data!.shadow.arms.filter((arm) => arm.comparisons > 0) };
      expect(withComparisons).toEqual(expected.shadow);
    }
  };

  beforeAll(async () => {
    // Persistent, as shared learning is run: the outage test restarts it from its append-only file.
    redis = await startRedisServer({ persistent: true });
    const config = replicaConfig(redis.url, { shadow: { rate: 1, seed: 3, maxConcurrent: 1_000, budgetUsdPerMinute: 1_000 } });
    replicas = await Promise.all([0, 1, 2].map(() => spawnSwitchyard({ config })));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await redis?.stop();
  });

  it('chats on A, comparisons on B and C (some twice at once): every replica ends with the same arms and comparison figures, exactly what was accepted', async () => {
    const [a, b, c] = replicas as [SwitchyardProcess, SwitchyardProcess, SwitchyardProcess];
    // Every shadow call is visible on another replica (running, then completed) with its arms.
    const batch = await chatsOnA(CHATS, 'compare', b);

    // Round 1 on B and C at once; a request in both rounds gets two comparisons concurrently on
    // two replicas: the same verdict (i % 4 == 0) or two different ones (i % 9 == 0). Round 2, on
    // A, after: a change of mind on the replica that ran the call.
    const round1: ComparisonItem[][] = [[], []];
    const round2: ComparisonItem[] = [];
    const eitherOf = new Map<string, [Preferred, Preferred]>();
    batch.forEach((request, i) => {
      if (i % 5 === 0) return; // not compared
      const preferred = PREFERENCES[i % 3]!;
      round1[i % 2]!.push({ request, preferred });
      if (i % 9 === 0) {
        const other = PREFERENCES[(i + 1) % 3]!;
        round1[(i + 1) % 2]!.push({ request, preferred: other });
        eitherOf.set(request.requestId, [preferred, other]);
      } else if (i % 4 === 0) {
        round1[(i + 1) % 2]!.push({ request, preferred });
        final.set(request.requestId, preferred);
      } else if (i % 7 === 0) {
        const changed = PREFERENCES[(i + 2) % 3]!;
        round2.push({ request, preferred: changed });
        final.set(request.requestId, changed);
      } else final.set(request.requestId, preferred);
    });
    const refused = (await Promise.all([compare(b, round1[0]!), compare(c, round1[1]!)])).flat();
    refused.push(...(await compare(a, round2)));
    expect(refused).toEqual([]);

    // Refused with a code: an unknown id; a known one with a wrong token (treated as unknown).
    const unknown = await graphql(c, 'mutation { submitComparison(requestId: "no-such-request", preferred: TIE, feedbackToken: "x") { requestId } }');
    expect(unknown.errors?.[0]?.extensions?.code).toBe('REQUEST_NOT_FOUND');
    expect(unknown.errors?.[0]?.message).toBe('request "no-such-request" is unknown or has expired');
    const wrongToken = await graphql(c, `mutation { submitComparison(requestId: "${batch[1]!.requestId}", preferred: TIE, feedbackToken: "x") { requestId } }`);
    expect(wrongToken.errors?.[0]?.extensions?.code).toBe('REQUEST_NOT_FOUND');

    // Two at once: whichever the shared order kept (one of the two, never both), as every replica shows it.
    const kept = await shadowCalls(c, batch.filter((r) => eitherOf.has(r.requestId)));
    for (const [id, pair] of eitherOf) {
      const verdict = kept.get(id)!.data!.comparison!;
      expect(pair).toContain(verdict);
      final.set(id, verdict);
    }
    await expectAllAgree();
  }, 60_000);

  it('Redis down: the replica that ran a shadow call still takes its comparisons, others refuse with a code; once back, all agree exactly', async () => {
    const [a, b, c] = replicas as [SwitchyardProcess, SwitchyardProcess, SwitchyardProcess];
    const before = await chatsOnA(24, 'before', b);
    const first = before.filter((_, i) => i % 2 === 0).map((request, i) => ({ request, preferred: PREFERENCES[i % 3]! }));
    expect(await compare(b, first)).toEqual([]);
    for (const { request, preferred } of first) final.set(request.requestId, preferred);

    await redis.kill();
    const during = await chatsOnA(12, 'during', a);
    // Another replica cannot check a request it did not serve now: refused with a precise code.
    const unavailable = await compare(b, [{ request: during[0]!, preferred: 'TIE' }]);
    expect(unavailable).toHaveLength(1);
    expect(unavailable[0]).toMatch(/^REQUEST_UNAVAILABLE: /);
    // On A: comparisons for calls run during the outage, and second ones for calls compared on B
    // before it (they replace B's verdict, which A's copy followed).
    const onA = [
      ...during.map((request, i) => ({ request, preferred: PREFERENCES[(i + 1) % 3]! })),
      ...before.filter((_, i) => i % 3 === 0).map((request, i) => ({ request, preferred: PREFERENCES[(i + 2) % 3]! })),
    ];
    expect(await compare(a, onA)).toEqual([]);
    for (const { request, preferred } of onA) final.set(request.requestId, preferred);

    await redis.start();
    for (const replica of replicas) {
      for (;;) {
        const { learning } = (await (await fetch(new URL('/health', replica.url))).json()) as { learning: { state: string; buffered: number } };
        if (learning.state === 'ok' && learning.buffered === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    // Records and calls that could not be shared are shared once the log has caught up (≤ 250 ms later).
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Calls compared on A during the outage, compared again on C now: they replace A's verdict.
    const onC = during.filter((_, i) => i % 2 === 0).map((request, i) => ({ request, preferred: PREFERENCES[i % 3]! }));
    expect(await compare(c, onC)).toEqual([]);
    for (const { request, preferred } of onC) final.set(request.requestId, preferred);
    await expectAllAgree();
  }, 60_000);
});
