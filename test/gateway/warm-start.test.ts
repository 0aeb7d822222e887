import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

const TOKEN = 'admin-token-warm-9c1d';

async function post(url: string, query: string, variables: Record<string, unknown>, authorization?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization: `Bearer ${authorization}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions?: { code?: string; row?: number; maxRows?: number } }>;
  };
}

const WARM_START = `mutation ($rows: [LoggedRowInput!]!, $weight: Float) {
  warmStart(rows: $rows, weight: $weight) { rows outcomes unmatchedModels }
}`;
const POSTERIOR = `query ($context: String) { armsInContext(context: $context) { arm { id } posterior { alpha beta } } }`;

describe('the warmStart admin mutation', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({
        server: { adminTokenEnv: 'SWITCHYARD_ADMIN_TOKEN' },
        router: { warmStart: { models: { 'gpt-logged': 'best' }, maxRowsPerCall: 3 } },
      }),
      env: { SWITCHYARD_ADMIN_TOKEN: TOKEN },
    });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const posterior = async (context: string, arm: string) => {
    const body = await post(gateway.url, POSTERIOR, { context });
    const arms = body.data!.armsInContext as Array<{ arm: { id: string }; posterior: { alpha: number; beta: number } }>;
    return arms.find((a) => a.arm.id === arm)!.posterior;
  };

  it('teaches logged outcomes per context and arm, mapping names by config', async () => {
    const rows = [
      { prompt: 'a', tags: ['logged'], outcomes: [{ model: 'gpt-logged', quality: 1, costUsd: 0.01 }, { model: 'm-weak', quality: 0 }, { model: 'nobody', quality: 1 }] },
      { prompt: 'b', tags: ['logged'], outcomes: [{ model: 'gpt-logged', quality: 1 }, { model: 'weak', quality: 0 }] },
    ];
    const body = await post(gateway.url, WARM_START, { rows, weight: 2 }, TOKEN);
    expect(body.errors).toBeUndefined();
    expect(body.data!.warmStart).toEqual({ rows: 2, outcomes: 4, unmatchedModels: ['nobody'] });
    // Two successes at weight 2 on top of the context's prior (hierarchyStrength 4 pseudo-observations of the global mean).
    const best = await posterior('logged', 'best');
    const weak = await posterior('logged', 'weak');
    expect(best.alpha + best.beta).toBeCloseTo(4 + 4, 2);
    expect(best.alpha - weak.alpha).toBeGreaterThan(3);
    expect(weak.beta - best.beta).toBeGreaterThan(3);
  });

  it('teaches nothing from a batch with a bad row or too many rows, and says which with a code', async () => {
    const before = await posterior('refused', 'best');
    const good = { prompt: 'c', tags: ['refused'], outcomes: [{ model: 'best', quality: 1 }] };
    const badQuality = await post(gateway.url, WARM_START, { rows: [good, { ...good, outcomes: [{ model: 'best', quality: 2 }] }] }, TOKEN);
    expect(badQuality.errors?.[0]?.extensions).toMatchObject({ code: 'WARM_START_INVALID_ROW', row: 1 });
    const twice = await post(gateway.url, WARM_START, { rows: [{ ...good, outcomes: [good.outcomes[0], good.outcomes[0]] }] }, TOKEN);
    expect(twice.errors?.[0]?.extensions).toMatchObject({ code: 'WARM_START_INVALID_ROW', row: 0 });
    const tooMany = await post(gateway.url, WARM_START, { rows: [good, good, good, good] }, TOKEN);
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'WARM_START_TOO_MANY_ROWS', maxRows: 3 });
    const badWeight = await post(gateway.url, WARM_START, { rows: [good], weight: -1 }, TOKEN);
    expect(badWeight.errors?.[0]?.extensions?.code).toBe('WARM_START_INVALID_WEIGHT');
    expect(await posterior('refused', 'best')).toEqual(before);
  });

  it('is for admins only', async () => {
    const body = await post(gateway.url, WARM_START, { rows: [] });
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
