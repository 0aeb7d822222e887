/**
 * Memory a chat subscription holds while it waits for its first token: 1,000 of them on one
 * WebSocket, against a bare graphql-yoga + graphql-ws server on the same schema whose chat waits
 * the same way. Each server runs in a child process of its own (so the client's memory is not
 * counted), and is measured after a full garbage collection, before and after the subscriptions.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ChatDocument } from '../src/client/generated/graphql.js';
import { createSwitchyardClient } from '../src/client/switchyard-client.js';
import { median } from './bench-kit.js';

const SUBSCRIPTIONS = 1_000;
const ROUNDS = 3;
/** More than the subscriptions after which Switchyard compiles a document (COMPILED_AFTER). */
const WARM_UP_CHATS = 8;
const TARGET = fileURLToPath(new URL('./targets/waiting-server.ts', import.meta.url));
const COMPILED_TARGET = fileURLToPath(new URL('./targets/waiting-compiled.mjs', import.meta.url));
/** The compiled build is measured too when there is one (`npm run build`): what a deployment runs. */
const COMPILED = existsSync(fileURLToPath(new URL('../dist/app.js', import.meta.url)));

type Kind = 'bare' | 'switchyard' | 'compiled';

interface Measurement {
  readonly started: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly rss: number;
}

function ask(child: ChildProcess): Promise<Measurement> {
  const answer = once(child, 'message') as Promise<[Measurement]>;
  child.send('measure');
  return answer.then(([m]) => m);
}

async function measureOnce(kind: Kind) {
  const child =
    kind === 'compiled'
      ? fork(COMPILED_TARGET, [], { execArgv: ['--expose-gc'], stdio: 'inherit' })
      : fork(TARGET, [kind], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: 'inherit' });
  try {
    const [{ wsUrl }] = (await once(child, 'message')) as [{ wsUrl: string }];
    const client = createSwitchyardClient({ url: wsUrl, lazy: false });
    const chat = (content: string) =>
      client.subscribe(ChatDocument, { input: { messages: [{ role: 'USER' as const, content }], cache: false } });
    // A few chats started and cancelled first, so that the connection and what is made once per
    // document exist before the baseline is taken: Switchyard compiles a document (and loads
    // graphql-jit) only after it has been subscribed a few times, a one-off that is no
    // subscription's cost. The same on both servers.
    for (let i = 0; i < WARM_UP_CHATS; i++) {
      const warmUp = chat(`warm-up question ${i}`);
      void warmUp.next().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 20));
      void warmUp.return?.();
    }
    const before = await ask(child);
    const subscriptions = Array.from({ length: SUBSCRIPTIONS }, (_, i) => chat(`waiting question ${i}`));
    for (const s of subscriptions) void s.next().catch(() => undefined);
    let after = await ask(child);
    while (after.started - before.started < SUBSCRIPTIONS) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await ask(child);
    }
    // Settle: whatever the last subscriptions set up after their call started.
    await new Promise((resolve) => setTimeout(resolve, 500));
    after = await ask(child);
    for (const s of subscriptions) void s.return?.();
    await client.dispose();
    return {
      heapPerSubscription: (after.heapUsed - before.heapUsed) / SUBSCRIPTIONS,
      externalPerSubscription: (after.external - before.external) / SUBSCRIPTIONS,
      rssPerSubscription: (after.rss - before.rss) / SUBSCRIPTIONS,
    };
  } finally {
    child.kill();
  }
}

export async function run(): Promise<void> {
  const kinds: Kind[] = COMPILED ? ['bare', 'switchyard', 'compiled'] : ['bare', 'switchyard'];
  const results: Record<Kind, Array<Awaited<ReturnType<typeof measureOnce>>>> = { bare: [], switchyard: [], compiled: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of kinds) results[kind].push(await measureOnce(kind));
  }
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  console.log(`${SUBSCRIPTIONS} subscriptions waiting for their first token on one WebSocket (median of ${ROUNDS})`);
  for (const kind of kinds) {
    const r = results[kind];
    console.log(
      `  ${kind.padEnd(10)} heap ${kb(median(r.map((x) => x.heapPerSubscription)))} + external ` +
        `${kb(median(r.map((x) => x.externalPerSubscription)))} per subscription (RSS ${kb(median(r.map((x) => x.rssPerSubscription)))})`,
    );
  }
  for (const kind of kinds.slice(1)) {
    const ratio = median(results[kind].map((s, i) => s.heapPerSubscription / results.bare[i]!.heapPerSubscription));
    console.log(`  heap per subscription, ${kind === 'compiled' ? 'Switchyard compiled' : 'Switchyard under tsx'}/bare: ${ratio.toFixed(2)}`);
  }
}
