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

const SHADOW_FIGURES = '{ shadow { comparisons arms { arm comparisons shadowPreferred primaryPreferred ties } } }';
type ShadowFigures = { comparisons: number; arms: Array<{ arm: string; comparisons: number; shadowPreferred: number; primaryPreferred: number; ties: number }> };

describe.skipIf(skipWithoutRedis())('three replicas sharing comparisons through Redis', () => {
  let redis: RedisServerHandle;
  let replicas: SwitchyardProcess[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    const config = replicaConfig(redis.url, { shadow: { rate: 1, seed: 3, maxConcurrent: 1_000, budgetUsdPerMinute: 1_000 } });
    replicas = await Promise.all([0, 1, 2].map(() => spawnSwitchyard({ config })));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await redis?.stop();
  });

  it('chats on A, comparisons on B and C (some twice at once): every replica ends with the same arms and comparison figures, exactly what was accepted', async () => {
    const [a, b, c] = replicas as [SwitchyardProcess, SwitchyardProcess, SwitchyardProcess];
    const served: Served[] = [];
    await inParallel(
      Array.from({ length: CHATS }, (_, i) => i),
      12,
      async (i) => {
        const request = await chatOn(a, 0, `compare ${i}`, TAGS[i % TAGS.length]);
        expect(request).not.toBeNull();
        served[i] = request!;
      },
    );

    // Every shadow call is visible on another replica (running, then completed) with its arms.
    let calls = await shadowCalls(b, served);
    for (let tries = 0; [...calls.values()].some((r) => r.data?.status !== 'COMPLETED') && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      calls = await shadowCalls(b, served);
    }
    for (const request of served) {
      const call = calls.get(request.requestId)!;
      expect(call.refusal).toBeNull();
      expect(call.data).toMatchObject({ primaryArm: request.arm, context: request.context, status: 'COMPLETED', comparison: null });
      expect(call.data!.arm).not.toBe(request.arm);
    }

    // Round 1 on B and C at once; a request in both rounds gets two comparisons concurrently on
    // two replicas: the same verdict (i % 4 == 0) or two different ones (i % 9 == 0). Round 2, on
    // A, after: a change of mind on the replica that ran the call.
    const round1: ComparisonItem[][] = [[], []];
    const round2: ComparisonItem[] = [];
    const sure = new Map<string, Preferred>();
    const eitherOf = new Map<string, [Preferred, Preferred]>();
    served.forEach((request, i) => {
      if (i % 5 === 0) return; // not compared
      const preferred = PREFERENCES[i % 3]!;
      round1[i % 2]!.push({ request, preferred });
      if (i % 9 === 0) {
        const other = PREFERENCES[(i + 1) % 3]!;
        round1[(i + 1) % 2]!.push({ request, preferred: other });
        eitherOf.set(request.requestId, [preferred, other]);
      } else if (i % 4 === 0) {
        round1[(i + 1) % 2]!.push({ request, preferred });
        sure.set(request.requestId, preferred);
      } else if (i % 7 === 0) {
        const changed = PREFERENCES[(i + 2) % 3]!;
        round2.push({ request, preferred: changed });
        sure.set(request.requestId, changed);
      } else sure.set(request.requestId, preferred);
    });
    const refused = (await Promise.all([compare(b, round1[0]!), compare(c, round1[1]!)])).flat();
    refused.push(...(await compare(a, round2)));
    expect(refused).toEqual([]);

    // Refused with a code: an unknown id; a known one with a wrong token (treated as unknown); an unshadowed (pinned) request.
    const unknown = await graphql(c, 'mutation { submitComparison(requestId: "no-such-request", preferred: TIE, feedbackToken: "x") { requestId } }');
    expect(unknown.errors?.[0]?.extensions?.code).toBe('REQUEST_NOT_FOUND');
    expect(unknown.errors?.[0]?.message).toBe('request "no-such-request" is unknown or has expired');
    const wrongToken = await graphql(c, `mutation { submitComparison(requestId: "${served[1]!.requestId}", preferred: TIE, feedbackToken: "x") { requestId } }`);
    expect(wrongToken.errors?.[0]?.extensions?.code).toBe('REQUEST_NOT_FOUND');

    // The final verdicts: the sure ones, and for two at once whichever the shared order kept (one of the two, never both).
    const final = new Map(sure);
    const finalCalls = await shadowCalls(c, served.filter((r) => eitherOf.has(r.requestId)));
    for (const [id, pair] of eitherOf) {
      const kept = finalCalls.get(id)!.data!.comparison!;
      expect(pair).toContain(kept);
      final.set(id, kept);
    }

    // Expected: pulls of the primaries; each final comparison's scores on both arms, in the request's context chain.
    const expected: Record<string, Record<string, ArmFigures>> = {};
    const figures = (context: string, arm: string) => {
      expected[context] ??= Object.fromEntries(ARMS.map((id) => [id, { pulls: 0, alpha: 1, beta: 1 }]));
      return expected[context]![arm] as { pulls: number; alpha: number; beta: number };
    };
    const tallies = new Map<string, { comparisons: number; shadowPreferred: number; primaryPreferred: number; ties: number }>();
    for (const request of served) {
      const shadowArm = calls.get(request.requestId)!.data!.arm;
      const preferred = final.get(request.requestId);
      for (const context of contextChain(request.context)) {
        figures(context, request.arm).pulls += 1;
        if (!preferred) continue;
        const [primaryScore, shadowScore] = SCORES[preferred];
        Object.assign(figures(context, request.arm), {
          alpha: figures(context, request.arm).alpha + primaryScore,
          beta: figures(context, request.arm).beta + (1 - primaryScore),
        });
        Object.assign(figures(context, shadowArm), {
          alpha: figures(context, shadowArm).alpha + shadowScore,
          beta: figures(context, shadowArm).beta + (1 - shadowScore),
        });
      }
      if (!preferred) continue;
      const tally = tallies.get(shadowArm) ?? { comparisons: 0, shadowPreferred: 0, primaryPreferred: 0, ties: 0 };
      tally.comparisons += 1;
      tally[preferred === 'SHADOW' ? 'shadowPreferred' : preferred === 'PRIMARY' ? 'primaryPreferred' : 'ties'] += 1;
      tallies.set(shadowArm, tally);
    }
    const ordered = Object.fromEntries(
      [GLOBAL_CONTEXT, ...Object.keys(expected).filter((k) => k !== GLOBAL_CONTEXT).sort()].map((k) => [k, expected[k]!]),
    );
    const shown = await untilAllShow(replicas, ordered);
    for (const arms of shown) expect(arms).toEqual(ordered);

    const expectedShadow = {
      comparisons: final.size,
      arms: [...tallies.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([arm, t]) => ({ arm, ...t })),
    };
    for (const replica of replicas) {
      const { data } = await graphql<{ shadow: ShadowFigures }>(replica, SHADOW_FIGURES);
      const withComparisons = { ...data!.shadow, arms: data!.shadow.arms.filter((arm) => arm.comparisons > 0) };
      expect(withComparisons).toEqual(expectedShadow);
    }
  }, 60_000);
});
