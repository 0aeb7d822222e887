import OpenAI, { NotFoundError } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

/**
 * A path nothing serves is answered with a coded JSON error, never an empty 404: in the OpenAI
 * error shape under /v1 (its clients, the OpenAI SDKs, read no other), whether the OpenAI API is
 * served or not, and in the server's own error shape (the one of its other refusals) elsewhere.
 */

let gateway: RunningGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const origin = (g: RunningGateway) => g.url.replace(/\/graphql$/, '');

async function json(response: Response): Promise<unknown> {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return response.json();
}

describe('a path nothing serves', () => {
  it('is a 404 with a NOT_FOUND error in the server error shape, GraphQL and /livez served as before', async () => {
    gateway = await startGateway({ config: testConfigInput({ server: { console: false } }) });
    for (const [method, path] of [
      ['GET', '/nope'],
      ['POST', '/graphql/extra'],
      ['GET', '/'],
      ['DELETE', '/metrics/x'],
    ] as const) {
      const response = await fetch(origin(gateway) + path, { method });
      expect(response.status).toBe(404);
      const body = (await json(response)) as { errors: Array<{ message: string; extensions: { code: string } }> };
      expect(body).toEqual({ errors: [{ message: expect.any(String), extensions: { code: 'NOT_FOUND' } }] });
      expect(body.errors[0]!.message).toContain(`${method} ${path}`);
    }
    expect((await fetch(`${origin(gateway)}/livez`)).status).toBe(200);
    const graphql = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await graphql.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('under /v1 is an OpenAI-shaped NOT_FOUND, the API served or not', async () => {
    for (const enabled of [true, false]) {
      gateway = await startGateway({ config: testConfigInput({ openai: { enabled } }) });
      const paths = enabled ? ['/v1', '/v1/embeddings'] : ['/v1', '/v1/models', '/v1/chat/completions'];
      for (const path of paths) {
        const response = await fetch(origin(gateway) + path, { method: path.endsWith('completions') ? 'POST' : 'GET', body: path.endsWith('completions') ? '{}' : undefined });
        expect(response.status).toBe(404);
        expect(await json(response)).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'NOT_FOUND' } });
      }
      if (!enabled) {
        // What the official SDK makes of it: its NotFoundError, with the code and a reason.
        const openai = new OpenAI({ baseURL: `${origin(gateway)}/v1`, apiKey: 'unused', maxRetries: 0 });
        const error = await openai.models.list().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(NotFoundError);
        expect(error).toMatchObject({ status: 404, code: 'NOT_FOUND' });
        expect((error as NotFoundError).message).toContain('openai.enabled');
      }
      await gateway.close();
      gateway = undefined;
    }
  });
});
