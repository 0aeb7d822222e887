import { createClient, type Client } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { spawnSwitchyard, type SwitchyardProcess } from '../helpers/switchyard-process.js';
import { testConfigInput } from '../helpers/gateway.js';

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

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let gateway: SwitchyardProcess | undefined;
const clients: Client[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
  await gateway?.stop();
  gateway = undefined;
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
      const closed = new Promise<void>((resolve) => next.on('closed', () => resolve()));
      await Promise.race([closed, until(() => later.snapshots.length >= 1, 'a snapshot')]);
      served = later.snapshots.length >= 1;
    }
    expect(served).toBe(true);
  });
});
