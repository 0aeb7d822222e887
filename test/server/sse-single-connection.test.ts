import { TOKEN_HEADER_KEY } from 'graphql-sse';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useGraphQLSSESingleConnection } from '../../src/server/sse-single-connection.js';
import { createOperationGate } from '../../src/server/trusted-documents.js';

/**
 * Reservations (PUT) that nobody opens a stream for must not pile up in graphql-sse's memory: they
 * expire, and while too many wait, more are refused with a code.
 */
function yogaWith(options: { reservationTtlMs?: number; maxUnclaimedReservations?: number }) {
  return createYoga({
    schema: createSchema({ typeDefs: 'type Query { hello: String }', resolvers: { Query: { hello: () => 'hi' } } }),
    plugins: [useGraphQLSSESingleConnection({ path: '/graphql', gate: createOperationGate(null), ...options })],
    logging: false,
  });
}

const reserve = (yoga: ReturnType<typeof yogaWith>) =>
  yoga.fetch('http://gateway/graphql', { method: 'PUT', headers: { accept: 'text/plain' } });

/** An operation POSTed against a reservation: 202 while it exists, 404 once it is gone. */
const operate = (yoga: ReturnType<typeof yogaWith>, token: string) =>
  yoga.fetch('http://gateway/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', [TOKEN_HEADER_KEY]: token },
    body: JSON.stringify({ query: '{ hello }', extensions: { operationId: crypto.randomUUID() } }),
  });

describe('graphql-sse single-connection reservations', () => {
  it('a reservation nobody connects to expires', async () => {
    const yoga = yogaWith({ reservationTtlMs: 50 });
    const reservation = await reserve(yoga);
    expect(reservation.status).toBe(201);
    const token = await reservation.text();
    expect((await operate(yoga, token)).status).toBe(202);
    await expect.poll(async () => (await operate(yoga, token)).status, { timeout: 5_000 }).toBe(404);
  });

  it('a reservation whose stream is open does not expire', async () => {
    const yoga = yogaWith({ reservationTtlMs: 50 });
    const token = await (await reserve(yoga)).text();
    const stream = await yoga.fetch('http://gateway/graphql', { headers: { accept: 'text/event-stream', [TOKEN_HEADER_KEY]: token } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    // Well past the TTL, operations still land on the open stream.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await operate(yoga, token)).status).toBe(202);
    let received = '';
    while (!received.includes('event: complete')) received += new TextDecoder().decode((await reader.read()).value);
    expect(received).toContain('"hello":"hi"');
    await reader.cancel();
  });

  it('refuses new reservations with TOO_MANY_RESERVATIONS while too many wait', async () => {
    const yoga = yogaWith({ reservationTtlMs: 60_000, maxUnclaimedReservations: 2 });
    expect((await reserve(yoga)).status).toBe(201);
    expect((await reserve(yoga)).status).toBe(201);
    const refused = await reserve(yoga);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ errors: [{ extensions: { code: 'TOO_MANY_RESERVATIONS' } }] });
  });
});
