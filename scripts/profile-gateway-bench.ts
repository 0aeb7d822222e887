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
import { findSourceMap, type SourceMapping } from 'node:module';
import type { SwitchyardClient } from '../src/client/switchyard-client.js';
import { runAtConcurrency } from '../bench/bench-kit.js';
import { chatOnce, startServerPair, WARM_UP_CHATS } from '../bench/gateway.bench.js';

const [chatsArg = '3000', armsArg = '1', ownersArg = ''] = process.argv.slice(2);
const chats = Number(chatsArg);
/** Owners whose functions are listed one by one as well (comma-separated, e.g. `src/server,lru-cache`). */
const listed = ownersArg.split(',').filter((owner) => owner !== '');

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

function ownerOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return '(garbage collector)';
  if (url === '') return `(native) ${fn}`;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const src = url.lastIndexOf('/src/');
  if (src !== -1) return `src/${url.slice(src + 5).split('/')[0]}`;
  return url.slice(url.lastIndexOf('/', url.lastIndexOf('/') - 1) + 1);
}

/**
 * tsx puts a module's code on one line, so a frame's line says nothing; with source maps on
 * (`node --enable-source-maps --import tsx ...`) the line is the original file's, with its name.
 */
function sourceLine(frame: ProfileNode['callFrame']): string {
  const found = frame.url.startsWith('file:') ? findSourceMap(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber) : undefined;
  // An empty object when the position maps to nothing.
  const entry = found as SourceMapping | Record<string, never> | undefined;
  if (entry === undefined || entry.originalSource === undefined) return String(frame.lineNumber + 1);
  const file = entry.originalSource.slice(entry.originalSource.lastIndexOf('/') + 1);
  return `${file}:${entry.originalLine + 1}`;
}

function summarise(label: string, profile: Profile, count: number, wallMs: number, cpuUs: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let program = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const us = profile.timeDeltas[i] ?? 0;
    if (frame.functionName === '(idle)') idle += us;
    if (frame.functionName === '(program)') program += us;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') return;
    busy += us;
    const owner = ownerOf(frame.url, frame.functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const name = `${frame.functionName || '(anonymous)'} ${owner}:${sourceLine(frame)}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  });
  const row = (us: number) => `${(us / count).toFixed(1).padStart(7)} µs ${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const perChat = (us: number) => (us / count).toFixed(0);
  console.log(
    `\n${label}: ${perChat(busy)} µs busy per chat (idle ${perChat(idle)}, program ${perChat(program)}; ` +
      `wall ${perChat(wallMs * 1000)}, process CPU ${perChat(cpuUs)})`,
  );
  for (const [owner, us] of [...owners].sort((a, b) => b[1] - a[1]).slice(0, 22)) console.log(`  ${row(us)}  ${owner}`);
  console.log('  hottest functions:');
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${row(us)}  ${name}`);
  for (const owner of listed) {
    console.log(`  functions of ${owner}:`);
    const own = [...functions].filter(([name]) => name.includes(` ${owner}:`)).sort((a, b) => b[1] - a[1]);
    for (const [name, us] of own.slice(0, 20)) console.log(`  ${row(us)}  ${name}`);
  }
}

async function profiled(session: Session, label: string, client: SwitchyardClient, concurrency: number): Promise<void> {
  await runAtConcurrency(300, concurrency, (i) => chatOnce(client, i));
  await session.post('Profiler.start');
  const started = performance.now();
  const cpu = process.cpuUsage();
  await runAtConcurrency(chats, concurrency, (i) => chatOnce(client, i));
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - started;
  const { profile } = await session.post('Profiler.stop');
  summarise(label, profile as unknown as Profile, chats, wallMs, used.user + used.system);
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
