import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatDocument } from '../../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../../src/client/switchyard-client.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

/** Over GraphQL a refused chat is an error with extensions.code and extensions.retryAfter (seconds). */
describe('client limits over GraphQL', () => {
  let gateway: RunningGateway;
  let client: SwitchyardClient;
  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({
        auth: { keys: [{ id: 'one-a-minute', env: 'ONE_KEY', limits: { requestsPerMinute: 1 } }] },
      }),
      env: { ONE_KEY: 'sk-one-a-minute-0123456' },
    });
    client = createSwitchyardClient({ url: gateway.wsUrl, connectionParams: { authorization: 'Bearer sk-one-a-minute-0123456' } });
  });
  afterAll(async () => {
    await client?.dispose();
    await gateway?.close();
  });

  it('refuses the chat past requestsPerMinute with RATE_LIMITED and retryAfter', async () => {
    const variables = { input: { messages: [{ role: 'USER' as const, content: 'once' }] } };
    const first = [];
    for await (const result of client.subscribe(ChatDocument, variables)) first.push(result);
    expect(first.at(-1)!.data!.chat.__typename).toBe('ChatDone');

    const second = [];
    for await (const result of client.subscribe(ChatDocument, variables)) second.push(result);
    expect(second).toHaveLength(1);
    const extensions = second[0]!.errors![0]!.extensions as { code: string; retryAfter: number };
    expect(extensions.code).toBe('RATE_LIMITED');
    expect(extensions.retryAfter).toBeGreaterThanOrEqual(1);
    expect(extensions.retryAfter).toBeLessThanOrEqual(60);
  });
});
