import { request as httpRequest } from 'node:http';
import { createClient, type Client } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { overHttp, overSse } from '../helpers/raw-operations.js';

/**
 * Issue 14: 10 `metrics(intervalMs: 250)` subscriptions on one socket held a core at 100% and
 * pushed `/livez` p99 to 2 s (100 subscriptions: 6.8 s), because every subscriber computed its own
 * snapshot (every arm's P(best) by Monte Carlo in every context). Now one producer per interval
 * computes it once per tick for every subscriber, a connection holds at most
 * `capacity.maxSubscriptionsPerConnection` operations, and a client at most
 * `capacity.maxConnectionsPerClient` sockets. The figures are in docs/reliability.md.
 */

const METRICS = 'subscription { metrics(intervalMs: 250) { generatedAt } }';

interface Collected {
  readonly snapshots: string[];
  error: { message: string; extensions?: { code?: string } } | null;
}

function subscribe(client: Client, into: Collected): () => void {
  return client.subscribe<{ metrics: { generatedAt: string } }>(
    { query: METRICS },
    {
      next: (result) => {
        if (result.data) into.snapshots.push(result.data.metrics.generatedAt);
        else if (result.errors) into.error = result.errors[0] as never;
      },
      error: (error) => {
        into.error = Array.isArray(error) ? (error[0] as never) : { message: String(error) };
      },
      complete: () => undefined,
    },
  );
}

function wsClient(url: string, onClosed?: (code: number, reason: string) => void): Client {
  return createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => undefined,
    on: { closed: (event) => onClosed?.((event as CloseEvent).code, (event as CloseEvent).reason) },
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The status of a GraphQL POST sent from another loopback address (another client without a key). */
function statusFrom(url: string, localAddress: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

let gateway: SwitchyardProcess | undefined;
const clients: Client[] = [];

let inProcess: RunningGateway | undefined;

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
  await gateway?.stop();
  gateway = undefined;
  await inProcess?.close();
  inProcess = undefined;
});

describe('shared expensive views and subscription limits', () => {
  it('computes one snapshot per interval for every subscriber, and refuses subscriptions past the per-connection limit with a code', async () => {
    gateway = await spawnSwitchyard({
      config: { ...testConfigInput(), logLevel: 'info', capacity: { maxSubscriptionsPerConnection: 10 } },
    });
    const client = wsClient(gateway.wsUrl);
    clients.push(client);
    const collected = Array.from({ length: 25 }, (): Collected => ({ snapshots: [], error: null }));
    collected.forEach((into) => subscribe(client, into));
    await until(() => collected.every((c) => c.error !== null || c.snapshots.length >= 6), 'six snapshots each');

    const served = collected.filter((c) => c.error === null);
    const refused = collected.filter((c) => c.error !== null);
    expect(served).toHaveLength(10);
    expect(refused).toHaveLength(15);
    for (const { error } of refused) expect(error?.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');

    // Shared: past the first (which may predate a subscriber), every subscriber saw the same
    // snapshots, by their generation time; each computing its own would give ten different series.
    const ticks = served.map((c) => new Set(c.snapshots.slice(1)));
    const common = [...ticks[0]!].filter((tick) => ticks.every((set) => set.has(tick)));
    expect(common.length).toBeGreaterThanOrEqual(3);

    // Refusals do not close the connection, and a refused operation takes no place.
    const more: Collected = { snapshots: [], error: null };
    subscribe(client, more);
    await until(() => more.error !== null, 'the eleventh to be refused');
    expect(more.error?.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
  });

  it('closes a client\'s WebSocket past maxConnectionsPerClient with 4429 and the code, and frees the place when one closes', async () => {
    gateway = await spawnSwitchyard({ config: { ...testConfigInput(), logLevel: 'info', capacity: { maxConnectionsPerClient: 3 } } });
    const closes: Array<{ code: number; reason: string }> = [];
    const open = Array.from({ length: 3 }, () => wsClient(gateway!.wsUrl));
    clients.push(...open);
    const firsts = open.map(() => ({ snapshots: [], error: null }) as Collected);
    open.forEach((client, i) => subscribe(client, firsts[i]!));
    await until(() => firsts.every((c) => c.snapshots.length >= 1), 'three connections served');

    const fourth = wsClient(gateway.wsUrl, (code, reason) => closes.push({ code, reason }));
    clients.push(fourth);
    const refused: Collected = { snapshots: [], error: null };
    subscribe(fourth, refused);
    await until(() => closes.length > 0, 'the fourth connection closed');
    expect(closes[0]!.code).toBe(4429);
    expect(closes[0]!.reason).toMatch(/^TOO_MANY_CONNECTIONS/);
    expect(refused.snapshots).toEqual([]);

    // The server frees the place when it sees the socket close, a moment after the client does.
    await open[0]!.dispose();
    let served = false;
    for (let attempt = 0; attempt < 20 && !served; attempt++) {
      const next = wsClient(gateway.wsUrl);
      clients.push(next);
      const later: Collected = { snapshots: [], error: null };
      subscribe(next, later);
      // The poll ends on the close too: a poll left running would time out later, in another file's time.
      let closed = false;
      next.on('closed', () => void (closed = true));
      await until(() => closed || later.snapshots.length >= 1, 'a snapshot or the close');
      served = later.snapshots.length >= 1;
    }
    expect(served).toBe(true);
  });
});

/**
 * The `analyzer` query and every arm's probabilityBest, shared for analyzer.sharedViewMs: the
 * gateway runs in this process (real HTTP server on loopback) so that the computations can be
 * counted where they happen.
 */
describe('shared query views', () => {
  it('computes the analyzer snapshot and P(best) once per interval for 60 concurrent queries', async () => {
    inProcess = await startGateway({ config: testConfigInput({ analyzer: { sharedViewMs: 60_000 } }) });
    const { analyzer, router } = inProcess.app.services;
    let snapshots = 0;
    const snapshot = analyzer.snapshot.bind(analyzer);
    analyzer.snapshot = (view) => {
      snapshots += 1;
      return snapshot(view);
    };
    // Monte Carlo estimates: arms() with draws (the routing path and the counts-only reads pass 0).
    const estimates: string[] = [];
    const arms = router.arms.bind(router);
    router.arms = (context, draws) => {
      if (draws !== 0) estimates.push(context ?? '*');
      return arms(context, draws);
    };
    const queries = [
      ...Array.from({ length: 20 }, () => '{ analyzer { generatedAt arms { arm bandit { probabilityBest } } } }'),
      ...Array.from({ length: 20 }, () => '{ arms { id pulls probabilityBest } }'),
      ...Array.from({ length: 20 }, () => '{ a: armsInContext(context: "code") { id probabilityBest } b: armsInContext { id } }'),
    ];
    const send = (batch: string[]) => Promise.all(batch.map((query, i) => (i % 2 === 0 ? overHttp(inProcess!.url, { query }) : overSse(inProcess!.url, { query }))));
    // The snapshot makes its own estimates (its bandit view): counted apart, first.
    const outcomes = await send(queries.slice(0, 20));
    estimates.length = 0;
    outcomes.push(...(await send(queries.slice(20))));
    for (const outcome of outcomes) expect(outcome.results[0]?.errors).toBeUndefined();
    const generated = new Set(outcomes.slice(0, 20).map((o) => (o.results[0]!.data as { analyzer: { generatedAt: string } }).analyzer.generatedAt));
    expect(generated.size).toBe(1);
    expect(snapshots).toBe(1);
    // One estimate per context asked for ("*" and "code"), whatever the number of queries.
    expect(estimates.sort()).toEqual(['*', 'code']);
    const best = outcomes.slice(20, 40).map((o) => JSON.stringify((o.results[0]!.data as { arms: unknown[] }).arms));
    expect(new Set(best).size).toBe(1);
    // Counts stay exact (not shared): a feedback-free chat shows in pulls at once.
    const pullsOf = async () =>
      ((await overHttp(inProcess!.url, { query: '{ arms { pulls } }' })).results[0]!.data as { arms: Array<{ pulls: number }> }).arms.reduce((sum, a) => sum + a.pulls, 0);
    const before = await pullsOf();
    await overSse(inProcess.url, { query: 'subscription { chat(input: { messages: [{ role: USER, content: "one more" }], cache: false }) { __typename } }' });
    await until(async () => (await pullsOf()) === before + 1, 'the pull counted');
  });
});

/**
 * Connections per client for every transport: a client's HTTP requests in flight (an SSE stream
 * for its whole life) hold the same per-client slots as its WebSockets
 * (capacity.maxConnectionsPerClient), so SSE streams cannot be opened past the limit either.
 */
describe('connections per client over HTTP and SSE', () => {
  it('refuses a fourth stream or request of a client holding three with 429 TOO_MANY_CONNECTIONS, other clients served', async () => {
    gateway = await spawnSwitchyard({ config: { ...testConfigInput(), logLevel: 'info', capacity: { maxConnectionsPerClient: 3 } } });
    const streams = Array.from({ length: 3 }, () => new AbortController());
    const opened = streams.map((controller) =>
      fetch(gateway!.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: 'subscription { metrics(intervalMs: 1000) { generatedAt } }' }),
        signal: controller.signal,
      }),
    );
    const responses = await Promise.all(opened);
    for (const response of responses) expect(response.status).toBe(200);

    const query = { query: '{ arms { id } }' };
    const http = await overHttp(gateway.url, query);
    expect(http.status).toBe(429);
    expect(http.results[0]?.errors?.[0]?.extensions?.code).toBe('TOO_MANY_CONNECTIONS');
    const sse = await overSse(gateway.url, { query: 'subscription { metrics(intervalMs: 1000) { generatedAt } }' }, { settleMs: 500 });
    expect(sse.status).toBe(429);
    const openai = await fetch(gateway.url.replace('/graphql', '/v1/models'));
    expect(openai.status).toBe(429);
    expect(((await openai.json()) as { error: { code: string } }).error.code).toBe('TOO_MANY_CONNECTIONS');
    // The same slots as WebSockets: a socket of this client is closed with 4429 too.
    const closes: number[] = [];
    const socket = wsClient(gateway.wsUrl, (code) => closes.push(code));
    clients.push(socket);
    subscribe(socket, { snapshots: [], error: null });
    await until(() => closes.length > 0, 'the socket refused');
    expect(closes[0]).toBe(4429);
    // /livez and /health are not counted (balancers must always reach them).
    expect((await fetch(gateway.url.replace('/graphql', '/livez'))).status).toBe(200);
    expect((await fetch(gateway.url.replace('/graphql', '/health'))).status).toBe(200);

    // Another client (address) is served; a closed stream frees its place.
    expect(await statusFrom(gateway.url, '127.0.0.2', query)).toBe(200);
    streams[0]!.abort();
    await responses[0]!.body?.cancel().catch(() => undefined);
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await overHttp(gateway.url, query)).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(200);
    for (const controller of streams) controller.abort();
  });
});
