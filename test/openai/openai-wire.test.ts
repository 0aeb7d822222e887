import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAIServer } from '../fakes/openai-server.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { twoModelConfig } from '../helpers/upstream.js';

/** /v1 with a raw HTTP client: the bytes on the wire, bad input, and a client that hangs up. */
describe('/v1 on the wire', () => {
  let upstream: FakeOpenAIServer;
  let gateway: RunningGateway;
  let base: string;

  beforeAll(async () => {
    upstream = await startFakeOpenAI({ script: { tokens: ['Hi', ' there'] } });
    // No client keys: any bearer (or none) is an anonymous caller, on loopback.
    gateway = await startGateway({ config: twoModelConfig(upstream.url, upstream.url, { openai: { autoModelAliases: ['gpt-4o-mini'] } }) });
    base = gateway.url.replace(/\/graphql$/, '/v1');
  });
  afterAll(async () => {
    await gateway?.close();
    await upstream?.close();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  it('streams data: lines of chunk JSON and ends with data: [DONE]', async () => {
    const response = await post('/chat/completions', JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await response.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = text.split('\n\n').filter(Boolean);
    expect(events.every((e) => e.startsWith('data: '))).toBe(true);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)));
    expect(chunks.map((c) => c.choices[0].finish_reason)).toEqual([...Array(chunks.length - 1).fill(null), 'stop']);
    expect(chunks.map((c) => c.choices[0].delta.content ?? '').join('')).toBe('Hi there');
    // Without include_usage, no usage field at all, as OpenAI sends it.
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    expect(response.headers.get('x-request-id')).toBe(chunks[0].id);
  });

  it('answers bad input with OpenAI-shaped 4xx errors', async () => {
    const cases: Array<[string, string, number, string, string | null]> = [
      ['/chat/completions', '{"model": "switchyard/auto", "messages": [', 400, 'INVALID_REQUEST', null],
      ['/chat/completions', '[]', 400, 'INVALID_REQUEST', null],
      ['/chat/completions', JSON.stringify({ messages: [] }), 400, 'INVALID_REQUEST', 'model'],
      ['/chat/completions', JSON.stringify({ model: 'a', messages: [{ role: 'tool', content: 'x' }] }), 400, 'UNSUPPORTED_PARAMETER', 'messages[0].role'],
      ['/chat/completions', JSON.stringify({ model: 'a', n: 2, messages: [{ role: 'user', content: 'x' }] }), 400, 'UNSUPPORTED_PARAMETER', 'n'],
      ['/chat/completions', JSON.stringify({ model: 'a', max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }), 400, 'MAX_TOKENS_OUT_OF_RANGE', 'max_tokens'],
      [
        '/chat/completions',
        JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'x' }], switchyard: { objective: { maxCostUsd: -1 } } }),
        400,
        'INVALID_OBJECTIVE',
        'switchyard.objective',
      ],
      ['/feedback', JSON.stringify({ request_id: 'no-such-request', feedback_token: 'a'.repeat(32), thumbs: 'up' }), 404, 'REQUEST_NOT_FOUND', null],
      ['/feedback', JSON.stringify({ request_id: 'x', thumbs: 'sideways' }), 400, 'INVALID_REQUEST', 'thumbs'],
      ['/embeddings', '{}', 404, 'NOT_FOUND', null],
    ];
    for (const [path, body, status, code, param] of cases) {
      const response = await post(path, body);
      const json = (await response.json()) as { error: Record<string, unknown> };
      expect({ path, body, status: response.status, code: json.error.code, param: json.error.param }).toEqual({ path, body, status, code, param });
      expect(json.error).toEqual({ message: expect.any(String), type: expect.any(String), param, code });
    }
    const tooLarge = await post('/chat/completions', JSON.stringify({ model: 'a', messages: [{ role: 'user', content: 'x'.repeat(2_000_000) }] }));
    expect(tooLarge.status).toBe(413);
    const content = 'x'.repeat(gateway.config.limits.maxPromptChars + 1);
    const overPrompt = await post('/chat/completions', JSON.stringify({ model: 'a', messages: [{ role: 'user', content }] }));
    expect(overPrompt.status).toBe(400);
    expect(((await overPrompt.json()) as any).error).toMatchObject({ code: 'PROMPT_TOO_LARGE', param: 'messages' });
  });

  it('a client that hangs up mid-stream stops the upstream call', async () => {
    upstream.setScript({ tokens: Array.from({ length: 100 }, (_, i) => ` w${i}`), tokenDelayMs: 100 });
    const before = upstream.requests.length;
    const requestId = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${base}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        expect(res.statusCode).toBe(200);
        res.once('data', (data: Buffer) => {
          req.destroy();
          resolve(JSON.parse(data.toString('utf8').split('\n')[0]!.slice('data: '.length)).id);
        });
      });
      req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
      req.end(JSON.stringify({ model: 'a', stream: true, messages: [{ role: 'user', content: 'long one' }] }));
    });
    const call = upstream.requests[before]!;
    await call.connectionClosed;
    expect(call.connectionIsClosed()).toBe(true);
    expect(gateway.app.services.chat.localRequest(requestId)?.status).toBe('cancelled');
  });
});
