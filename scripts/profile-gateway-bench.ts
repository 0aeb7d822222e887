/**
 * `npx tsx scripts/profile-gateway-bench.ts [chats] [arms]`: where the gateway bench's CPU goes,
 * for Switchyard and for the bare yoga + graphql-ws server alike, in one process as the bench runs
 * them (`bench/gateway.bench.ts`: the same config, client, query and events). Each server is
 * profiled with the inspector (100 µs sampling) over `chats` chats at concurrency 1 and 16, after
 * the bench's warm-up, and the self time is printed by owner (package, or Switchyard's source
 * directory) in µs per chat and in % of the busy time, with the idle, wall and process CPU time
 * per chat. The client runs in the same process, so its share (graphql-ws's client, the Switchyard
 * client) is in both servers' figures alike. A third argument lists the functions of some owners:
 * `... 3000 1 src/server,lru-cache`; run with `node --enable-source-maps --import tsx` for their
 * lines in the source (tsx puts each module on one line).
 */
import { Session } from 'node:inspector/promises';
import type { SwitchyardClient } from '../src/client/switchyard-client.js';
import { runAtConcurrency } from '../bench/bench-kit.js';
import { chatOnce, startServerPair, WARM_UP_CHATS } from '../bench/gateway.bench.js';
import { printProfile, selfTime, type Profile } from './profile-kit.js';

const [chatsArg = '3000', armsArg = '1', ownersArg = ''] = process.argv.slice(2);
const chats = Number(chatsArg);
/** Owners whose functions are listed one by one as well (comma-separated, e.g. `src/server,lru-cache`). */
const listed = ownersArg.split(',').filter((owner) => owner !== '');

async function profiled(session: Session, label: string, client: SwitchyardClient, concurrency: number): Promise<void> {
  await runAtConcurrency(300, concurrency, (i) => chatOnce(client, i));
  await session.post('Profiler.start');
  const started = performance.now();
  const cpu = process.cpuUsage();
  await runAtConcurrency(chats, concurrency, (i) => chatOnce(client, i));
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - started;
  const { profile } = await session.post('Profiler.stop');
  printProfile(label, selfTime(profile as unknown as Profile), chats, { wallMs, cpuUs: used.user + used.system, listed });
}

const pair = await startServerPair(Number(armsArg));
const { switchyard, bareClient } = pair;
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
try {
  // The bench's warm-up: profiled before it, c=1 shows the JIT tiering up, not the steady state.
  await runAtConcurrency(WARM_UP_CHATS, 16, (i) => chatOnce(bareClient, i));
  await runAtConcurrency(WARM_UP_CHATS, 16, (i) => chatOnce(switchyard, i));
  for (const concurrency of [1, 16]) {
    await profiled(session, `bare, c=${concurrency}`, bareClient, concurrency);
    await profiled(session, `Switchyard, c=${concurrency}`, switchyard, concurrency);
  }
} finally {
  session.disconnect();
  await pair.close();
}
