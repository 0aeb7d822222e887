/**
 * `npm run build && npx tsx scripts/profile-upstream-bench.ts [chats] [rounds]`: where the CPU of
 * the upstream bench's servers goes at concurrency 16, each in its own process as the bench's
 * `own process` rows run them (bench/upstream.bench.ts: the same fake server, configuration,
 * client and query): Switchyard's compiled build, and the bare relay (bench/bare-relay.ts: bare
 * graphql-yoga + graphql-ws relaying the same server). This process drives the chats; each server
 * profiles itself (inspector, 100 µs sampling) over `chats` chats after the bench's warm-up, in
 * `rounds` alternating rounds. Printed: self time by group (graphql-ws, ws, yoga/envelop/
 * graphql-tools, graphql-jit, graphql, undici, node internals, native, GC, Switchyard's src/) in µs
 * per chat for every round, side by side; then, for each server's last round, the owners, the
 * hottest functions and those of the libraries, which name the frames.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSwitchyardClient } from '../src/client/switchyard-client.js';
import { startFakeOpenAI } from '../test/fakes/openai-server.js';
import { runAtConcurrency } from '../bench/bench-kit.js';
import {
  COMPILED,
  gatewayConfig,
  readChat,
  SCRIPT,
  startGatewayProcess,
  startRelayProcess,
  stopTarget,
  WARM_UP,
} from '../bench/upstream.bench.js';
import { byGroup, nativeByCallerGroup, printProfile, selfTime, type Profile, type SelfTime } from './profile-kit.js';

const [chatsArg = '2000', roundsArg = '2'] = process.argv.slice(2);
const chats = Number(chatsArg);
const rounds = Number(roundsArg);
const CONCURRENCY = 16;
/** `PROFILE_OUT=dir`: each round's profile is kept there as `<target>-<round>.cpuprofile`, for a viewer or another reading. */
const out = process.env.PROFILE_OUT;
/** `PROFILE_TARGETS=switchyard,baseline` (any of relay, switchyard, baseline): profile only those servers. */
const only = process.env.PROFILE_TARGETS?.split(',');
/**
 * `PROFILE_BASELINE=/path/to/dist`: a second Switchyard, another build's compiled directory (say
 * main's, copied inside this checkout so its packages resolve), profiled in the same rounds, taking
 * turns with this one: an A/B whose two sides share the minutes and the machine's load.
 */
const baselineDist = process.env.PROFILE_BASELINE;
/** The libraries whose own functions are printed, so the profile names their frames. */
const LIBRARIES = ['graphql-ws', 'ws', 'graphql-yoga', '@envelop/core', '@graphql-tools/executor', 'graphql-jit', 'graphql', 'undici'];

if (!COMPILED) throw new Error('no dist/: run `npm run build` first (Switchyard is profiled compiled, as deployed)');

async function ask<T>(child: ChildProcess, message: unknown): Promise<T> {
  const answer = once(child, 'message');
  child.send(message as never);
  return (await answer)[0] as T;
}

/** A target's CPU over a window (see bench/targets/child-profiler.mjs). */
interface Cpu {
  readonly userUs: number;
  readonly systemUs: number;
  readonly threads: Readonly<Record<string, { userUs: number; systemUs: number }>>;
}

interface Sample {
  readonly time: SelfTime;
  readonly wallMs: number;
  readonly cpuUs: number;
  readonly chatsPerSecond: number;
  /** The same number of chats just before, without the profiler. */
  readonly unprofiled: Cpu;
}

const fake = await startFakeOpenAI({ script: SCRIPT });
const gateway = await startGatewayProcess(gatewayConfig(fake.url));
const relay = await startRelayProcess(fake.url);
const baseline = baselineDist === undefined ? undefined : await startGatewayProcess(gatewayConfig(fake.url), baselineDist);
const targets = [
  { name: 'bare relay', key: 'relay', process: relay },
  { name: 'Switchyard', key: 'switchyard', process: gateway },
  ...(baseline === undefined ? [] : [{ name: 'baseline', key: 'baseline', process: baseline }]),
]
  .filter((t) => only === undefined || only.includes(t.key))
  .map((t) => ({ ...t, client: createSwitchyardClient({ url: t.process.wsUrl }), samples: [] as Sample[] }));
if (out !== undefined) mkdirSync(out, { recursive: true });
try {
  for (const target of targets) await runAtConcurrency(WARM_UP, CONCURRENCY, (i) => readChat(target.client, i));
  for (let round = 0; round < rounds; round++) {
    for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
      await ask(target.process.child, { cpu: 'start' });
      await runAtConcurrency(chats, CONCURRENCY, (i) => readChat(target.client, i));
      const { cpu: unprofiled } = await ask<{ cpu: Cpu }>(target.process.child, { cpu: 'stop' });
      await ask(target.process.child, { profile: 'start' });
      const started = performance.now();
      const run = await runAtConcurrency(chats, CONCURRENCY, (i) => readChat(target.client, i));
      const wallMs = performance.now() - started;
      const { profile, cpu } = await ask<{ profile: Profile; cpu: Cpu }>(target.process.child, { profile: 'stop' });
      const cpuUs = cpu.userUs + cpu.systemUs;
      if (out !== undefined) writeFileSync(join(out, `${target.key}-${target.samples.length + 1}.cpuprofile`), JSON.stringify(profile));
      target.samples.push({ time: selfTime(profile), wallMs, cpuUs, chatsPerSecond: (chats * 1000) / run.elapsedMs, unprofiled });
    }
  }

  console.log(`\n${chats} chats per round at concurrency ${CONCURRENCY}, ${rounds} rounds; µs of the server process per chat`);
  const columns = targets.flatMap((t) => t.samples.map((s, r) => ({ label: `${t.name} ${r + 1}`, s })));
  const cell = (us: number) => (us / chats).toFixed(1).padStart(14);
  console.log(`${''.padEnd(54)}${columns.map((c) => c.label.padStart(14)).join('')}`);
  const groups = columns.map((c) => byGroup(c.s.time.owners));
  for (const group of groups[0]!.keys()) console.log(`${group.padEnd(54)}${groups.map((g) => cell(g.get(group)!)).join('')}`);
  const natives = columns.map((c) => nativeByCallerGroup(c.s.time.nativeByCaller));
  const callers = [...new Set(natives.flatMap((n) => [...n.keys()]))];
  console.log('of which native, by the group of its JavaScript caller:');
  for (const group of callers) console.log(`  ${group.padEnd(52)}${natives.map((n) => cell(n.get(group) ?? 0)).join('')}`);
  const line = (label: string, pick: (s: Sample) => number) =>
    console.log(`${label.padEnd(54)}${columns.map((c) => cell(pick(c.s))).join('')}`);
  line('busy (JavaScript, GC and native with a JS stack)', (s) => s.time.busy);
  line('(program): native with no JS stack (libuv, syscalls)', (s) => s.time.program);
  line('process CPU (user + system)', (s) => s.cpuUs);
  line('wall', (s) => s.wallMs * 1000);
  console.log('the same number of chats just before, without the profiler:');
  line('  process user', (s) => s.unprofiled.userUs);
  line('  process system', (s) => s.unprofiled.systemUs);
  const threads = [...new Set(columns.flatMap((c) => Object.keys(c.s.unprofiled.threads)))].sort();
  for (const thread of threads) {
    const t = (s: Sample) => s.unprofiled.threads[thread] ?? { userUs: 0, systemUs: 0 };
    line(`  thread ${thread}: user`, (s) => t(s).userUs);
    line(`  thread ${thread}: system`, (s) => t(s).systemUs);
  }
  console.log(`${'chats/s'.padEnd(54)}${columns.map((c) => c.s.chatsPerSecond.toFixed(0).padStart(14)).join('')}`);
  for (const target of targets.filter((t) => t.key !== 'relay')) {
    console.log(`${target.name} src/ by directory (µs per chat, rounds):`);
    const dirs = new Map<string, number[]>();
    target.samples.forEach((s, r) => {
      for (const [owner, us] of s.time.owners) if (owner.startsWith('src/')) (dirs.get(owner) ?? dirs.set(owner, []).get(owner)!)[r] = us;
    });
    for (const [dir, values] of [...dirs].sort((a, b) => (b[1][0] ?? 0) - (a[1][0] ?? 0))) {
      console.log(`  ${dir.padEnd(20)}${values.map((us) => (us / chats).toFixed(1).padStart(8)).join('')}`);
    }
  }

  for (const target of targets) {
    const last = target.samples.at(-1)!;
    printProfile(`${target.name}, c=${CONCURRENCY}, round ${target.samples.length}`, last.time, chats, {
      wallMs: last.wallMs,
      cpuUs: last.cpuUs,
      topOwners: 30,
      topFunctions: 30,
      listed: LIBRARIES,
    });
  }
} finally {
  for (const target of targets) await target.client.dispose();
  for (const target of [relay, gateway, baseline]) if (target !== undefined) await stopTarget(target.child);
  await fake.close();
}
