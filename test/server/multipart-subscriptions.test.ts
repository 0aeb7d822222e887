import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useMultipartSubscriptions } from '../../src/server/multipart-subscriptions.js';

/** The multipart subscription protocol's edges: heartbeats while idle, and a failing stream. */
function yogaWith(ticks: AsyncIterable<number>) {
  return createYoga({
    schema: createSchema({
      typeDefs: 'type Query { hello: String } type Subscription { tick: Int }',
      resolvers: { Subscription: { tick: { subscribe: () => ticks, resolve: (value: number) => value } } },
    }),
    plugins: [useMultipartSubscriptions({ heartbeatMs: 20 })],
    logging: false,
    maskedErrors: true,
  });
}

const subscribeMultipart = (yoga: ReturnType<typeof yogaWith>) =>
  yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'multipart/mixed;subscriptionSpec=1.0' },
    body: JSON.stringify({ query: 'subscription { tick }' }),
  });

const parts = (body: string) =>
  body
    .split('\r\n--graphql')
    .slice(1, -1)
    .map((part) => JSON.parse(part.slice(part.indexOf('\r\n\r\n'))) as Record<string, unknown>);

describe('multipart subscriptions', () => {
  it('sends {} heartbeats while the subscription is quiet', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    async function* ticks() {
      yield 1;
      await released;
      yield 2;
    }
    const response = await subscribeMultipart(yogaWith(ticks()));
    const reader = response.body!.getReader();
    let body = '';
    // Read until a heartbeat has arrived after the first event, then let the second one go.
    while ((body.match(/\{\}/g) ?? []).length < 1) body += new TextDecoder().decode((await reader.read()).value);
    release();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) body += new TextDecoder().decode(chunk.value);
    const received = parts(body);
    expect(received[0]).toEqual({ payload: { data: { tick: 1 } } });
    expect(received.at(-1)).toEqual({ payload: { data: { tick: 2 } } });
    expect(received.slice(1, -1).every((p) => Object.keys(p).length === 0)).toBe(true);
    expect(body.endsWith('\r\n--graphql--\r\n')).toBe(true);
  });

  it('ends a stream that fails with its (masked) error as the last payload, then the closing boundary', async () => {
    async function* ticks() {
      yield 1;
      throw new Error('database password in here');
    }
    const body = await (await subscribeMultipart(yogaWith(ticks()))).text();
    const received = parts(body);
    expect(received[0]).toEqual({ payload: { data: { tick: 1 } } });
    expect(received.at(-1)).toMatchObject({ payload: { errors: [{ message: 'Unexpected error.' }] } });
    expect(body).not.toContain('password');
    expect(body.endsWith('\r\n--graphql--\r\n')).toBe(true);
  });
});
