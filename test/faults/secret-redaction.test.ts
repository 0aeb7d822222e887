import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatDocument } from '../../src/client/generated/graphql.js';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';
import { openaiModel } from '../helpers/upstream.js';

/**
 * Issue 14, "a secret in models[].headers echoed by the upstream": before, a provider error that
 * quoted a configured header back was shown to the client in ChatError.message and written to 3
 * log lines (only the API key was redacted). Now every configured header value, query value and
 * key is redacted wherever it could leave the process: error messages (at the source) and log
 * lines (by value, in every line); metrics carry ids only. A real process, configured by file and
 * environment, against a fake provider that echoes what it was sent.
 */

const HEADER_SECRET = 'hdr-5ecret-0123456789abcdef';
const QUERY_SECRET = 'qry-5ecret-fedcba9876543210';
const API_KEY = 'key-5ecret-aaaabbbbccccdddd';
const SECRETS = [HEADER_SECRET, QUERY_SECRET, API_KEY];

let fake: FakeOpenAIServer;
let gateway: SwitchyardProcess;

const echo = (request: { headers: Record<string, string | string[] | undefined>; path: string }) =>
  `rejected x-team-token=${String(request.headers['x-team-token'])} auth=${String(request.headers['authorization'])} url=${request.path}`;

beforeAll(async () => {
  fake = await startFakeOpenAI({ script: (request) => ({ status: 401, errorMessage: echo(request) }) });
  gateway = await spawnSwitchyard({
    config: {
      models: [
        openaiModel('m-echo', fake.url, {
          headers: { 'x-team-token': HEADER_SECRET },
          query: { 'api-key': QUERY_SECRET },
          apiKeyEnv: 'ECHO_API_KEY',
        }),
      ],
      arms: [{ id: 'echo', model: 'm-echo' }],
      cache: { enabled: false },
      shadow: { rate: 0 },
      router: { maxAttempts: 1 },
    },
    env: { ECHO_API_KEY: API_KEY, LOG_LEVEL: 'debug' },
  });
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  await fake?.close();
});

async function chatError(): Promise<{ code: string; message: string }> {
  for await (const result of gateway.client.subscribe(ChatDocument, { input: { messages: [{ role: 'USER', content: 'hello' }], cache: false } })) {
    const event = result.data?.chat;
    if (event?.__typename === 'ChatError') return { code: event.code, message: event.message };
  }
  throw new Error('no ChatError');
}

describe('configured secrets echoed by a provider', () => {
  it('the provider really received them (the probe is live)', async () => {
    await chatError();
    const seen = fake.requests.at(-1)!;
    expect(seen.headers['x-team-token']).toBe(HEADER_SECRET);
    expect(seen.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    expect(seen.path).toContain(QUERY_SECRET);
  });

  it('never reach the client: ChatError.message says [redacted]', async () => {
    const error = await chatError();
    expect(error.code).toBe('UPSTREAM_HTTP_ERROR');
    expect(error.message).toContain('[redacted]');
    for (const secret of SECRETS) expect(error.message).not.toContain(secret);
  });

  it('never reach a log line or the metrics', async () => {
    await chatError();
    await gateway.waitForLog((entry) => JSON.stringify(entry).includes('[redacted]'));
    const lines = gateway.logs.map((entry) => JSON.stringify(entry));
    expect(lines.filter((line) => line.includes('[redacted]')).length).toBeGreaterThan(0);
    for (const secret of SECRETS) expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    const metrics = await (await fetch(gateway.url.replace('/graphql', '/metrics'))).text();
    expect(metrics).toContain('switchyard_');
    for (const secret of SECRETS) expect(metrics).not.toContain(secret);
  });
});
