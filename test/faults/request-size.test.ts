import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { overWebSocket } from '../helpers/raw-operations.js';

/**
 * Issue 14, "WebSocket message of 50 MB": before, it was accepted (the ws library's default cap is
 * 100 MiB) and buffered whole, and close reasons carried internal error text. Now one WebSocket
 * message and one HTTP body are capped at `server.maxRequestBytes` (by default what the largest
 * accepted prompt needs: 6 bytes a character of limits.maxPromptChars, plus 1 MiB), the socket is
 * closed with 1009 (message too big), and no close reason carries an error's own text.
 */

const chatQuery = 'subscription ($input: ChatInput!) { chat(input: $input) { __typename ... on ChatError { code } } }';
const chatFrame = (content: string) =>
  JSON.stringify({ id: '1', type: 'subscribe', payload: { query: chatQuery, variables: { input: { messages: [{ role: 'USER', content }] } } } });

/** Close reasons graphql-ws and ws send by themselves: fixed texts, never an error's message. */
const FIXED_REASONS = new Set(['', 'Invalid message received', 'Internal server error', 'Unauthorized', 'Forbidden', 'Subprotocol not acceptable']);

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway.close();
});

describe('the size of one request', () => {
  it('closes a socket that sends a 50 MB message with 1009, and keeps serving', async () => {
    const outcome = await overWebSocket(gateway.wsUrl, { frames: [chatFrame('x'.repeat(50 * 1024 * 1024))] }, { settleMs: 10_000 });
    expect(outcome.closed?.code).toBe(1009);
    expect(FIXED_REASONS.has(outcome.closed!.reason)).toBe(true);
    expect(outcome.results).toEqual([]);
    const next = await overWebSocket(gateway.wsUrl, { query: '{ __typename }' });
    expect(next.results).toEqual([{ data: { __typename: 'Query' } }]);
  });

  it('takes the largest prompt the limits accept, in one message and in one HTTP body', async () => {
    const content = 'y'.repeat(gateway.config.limits.maxPromptChars);
    const ws = await overWebSocket(gateway.wsUrl, { frames: [chatFrame(content)] }, { settleMs: 3_000 });
    expect(ws.closed).toBeUndefined();
    expect(ws.results[0]).toEqual({ data: { chat: { __typename: 'ChatRoute' } } });
    const http = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: chatQuery, variables: { input: { messages: [{ role: 'USER', content }] } } }),
    });
    expect(http.status).toBe(200);
    expect(await http.text()).toMatch(/ChatRoute/);
  });

  it('refuses a larger HTTP body with 413 and a code', async () => {
    const body = JSON.stringify({ query: '{ __typename }', variables: { pad: 'z'.repeat(3 * 1024 * 1024) } });
    const response = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('BODY_TOO_LARGE');

    // Sent without a length (chunked), the same body gets the same answer.
    const chunked = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([body]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(await chunked.json()).toEqual({
      errors: [{ message: `the request body is larger than ${gateway.config.limits.maxPromptChars * 6 + 1024 * 1024} bytes`, extensions: { code: 'BODY_TOO_LARGE' } }],
    });
  });
});

describe('server.maxRequestBytes', () => {
  it('sets the cap for WebSocket messages and HTTP bodies', async () => {
    const small = await startGateway({ config: testConfigInput({ server: { maxRequestBytes: 64 * 1024 } }) });
    try {
      const ws = await overWebSocket(small.wsUrl, { frames: [chatFrame('x'.repeat(100 * 1024))] }, { settleMs: 5_000 });
      expect(ws.closed?.code).toBe(1009);
      const response = await fetch(small.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }', variables: { pad: 'z'.repeat(100 * 1024) } }),
      });
      expect(response.status).toBe(413);
      expect((await overWebSocket(small.wsUrl, { query: '{ __typename }' })).results).toEqual([{ data: { __typename: 'Query' } }]);
    } finally {
      await small.close();
    }
  });
});
