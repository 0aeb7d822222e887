import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { createSwitchyardClient } from '../../src/client/switchyard-client.js';
import { SetArmEnabledDocument } from '../../src/client/generated/graphql.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { createCapturingLogger, startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

const TOKEN = 'admin-token-7f3a9c';

async function post(url: string, query: string, authorization?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
}

describe('admin mutations with server.adminTokenEnv', () => {
  let gateway: RunningGateway;
  const log = createCapturingLogger('trace');
  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({ server: { adminTokenEnv: 'SWITCHYARD_ADMIN_TOKEN' } }),
      env: { SWITCHYARD_ADMIN_TOKEN: TOKEN },
      logger: log.logger,
    });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const mutations = [
    'mutation { setArmEnabled(id: "weak", enabled: true) { id } }',
    'mutation { invalidateCache }',
    'mutation { setShadowRate(rate: 0.3) { rate } }',
  ];

  it.each(mutations)('refuses %s without the token, and with a wrong one', async (query) => {
    expect((await post(gateway.url, query)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await post(gateway.url, query, 'Bearer nope')).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it.each(mutations)('runs %s with the token over HTTP', async (query) => {
    const body = await post(gateway.url, query, `Bearer ${TOKEN}`);
    expect(body.errors).toBeUndefined();
  });

  it('takes the token from graphql-ws connection params', async () => {
    // The typed client's adminToken option puts it in the connection params.
    const admin = createSwitchyardClient({ url: gateway.wsUrl, adminToken: TOKEN });
    try {
      const result = await admin.request(SetArmEnabledDocument, { id: 'weak', enabled: true });
      expect(result.setArmEnabled.enabled).toBe(true);
    } finally {
      await admin.dispose();
    }
    await expect(gateway.client.request(SetArmEnabledDocument, { id: 'weak', enabled: true })).rejects.toMatchObject({
      code: 'FORBIDDEN',
      errors: [{ extensions: { code: 'FORBIDDEN' } }],
    });
  });

  it('never logs the token', () => {
    expect(log.lines.length).toBeGreaterThan(0);
    expect(log.lines.filter((line) => line.includes(TOKEN))).toEqual([]);
  });
});

describe('admin token configuration', () => {
  it('refuses to start when the named variable is not set', () => {
    const config = parseConfig(testConfigInput({ server: { adminTokenEnv: 'SWITCHYARD_ADMIN_TOKEN' } }));
    expect(() => buildApp({ config, logger: createLogger('silent'), env: {} })).toThrow(/SWITCHYARD_ADMIN_TOKEN/);
  });
});
