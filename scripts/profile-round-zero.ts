/**
 * `npm run build && npx tsx scripts/profile-round-zero.ts [out-dir]`: what the upstream bench's
 * gateway child does when load comes back after it has idled, the "round 0" burst of
 * docs/performance.md ("Stop 21": 17–18 s after warm-up, a mark-sweep then loop stalls of 5–40 ms
 * in Switchyard's child alone).
 *
 * It replays the bench's schedule for the `own process` Switchyard reader (bench/upstream.bench.ts:
 * same fake server, configuration, client and query): WARM_UP chats at c=16, then an idle gap while
 * the bench's other readers would run (IDLE_MS, default 29 s: the relay's warm-up and round 0's
 * first five runs), then ROUNDS measured runs of 480 chats at c=16, each after 32 unmeasured chats,
 * with GAP_MS (default 11 s) idle between them. The child runs the compiled build with
 * bench/targets/timeline-probe.mjs preloaded (GC pauses, loop stalls, a CPU profile on the epoch
 * clock) and extra node flags from ROUND_ZERO_NODE_FLAGS (e.g. `--trace-gc --trace-flush-bytecode`,
 * printed to out-dir/child.log). Printed per round: TTFT p50/p99, GC, stalls, and the profile's
 * self time inside the stall windows by frame; out-dir/timeline.json keeps the raw record, and
 * out-dir/end.heapsnapshot the heap after the last round (HEAP_SNAPSHOT=0 to skip).
 * ROUND_ZERO_TARGET=relay runs the bench's bare relay (bench/bare-relay.ts, under tsx) instead.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createSwitchyardClient } from '../src/client/switchyard-client.js';
import { startFakeOpenAI } from '../test/fakes/openai-server.js';
import { percentile, runAtConcurrency } from '../bench/bench-kit.js';
import { COMPILED, gatewayConfig, readChat, SCRIPT, stopTarget, WARM_UP } from '../bench/upstream.bench.js';
import { askChild, ownerOf, type Profile } from './profile-kit.js';

const out = process.argv[2] ?? '/tmp/round-zero';
const IDLE_MS = Number(process.env.IDLE_MS ?? 29_000);
const GAP_MS = Number(process.env.GAP_MS ?? 11_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const REQUESTS = 480;
/** The probe's timer period, ms: a stall's window starts one period before its late tick. */
const TICK = 5;
const CONCURRENCY = 16;
const TARGET = fileURLToPath(new URL('../bench/targets/upstream-gateway.mjs', import.meta.url));
const RELAY_TARGET = fileURLToPath(new URL('../bench/targets/upstream-relay.ts', import.meta.url));
const PROBE = fileURLToPath(new URL('../bench/targets/timeline-probe.mjs', import.meta.url));

if (!COMPILED) throw new Error('no dist/: run `npm run build` first');
mkdirSync(out, { recursive: true });

interface Gc {
  at: number;
  ms: number;
  kind: string;
  heapMb: number;
}
interface Stall {
  at: number;
  lateMs: number;
}
interface Timeline {
  profile: Profile & { startTime: number };
  profileStarted: { epochMs: number; monoUs: number };
  gcs: Gc[];
  stalls: Stall[];
  heapUsedMb: number;
}
interface Chat {
  round: number;
  at: number;
  ttftMs: number;
}

const now = () => performance.timeOrigin + performance.now();
const log = openSync(`${out}/child.log`, 'w');
const flags = (process.env.ROUND_ZERO_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const fake = await startFakeOpenAI({ script: SCRIPT });
// ROUND_ZERO_TARGET=relay: the bench's bare relay (under tsx, as the bench runs it) in the same schedule.
const relay = process.env.ROUND_ZERO_TARGET === 'relay';
const child = relay
  ? fork(RELAY_TARGET, [], { execArgv: ['--expose-gc', '--import', 'tsx', '--import', PROBE, ...flags], stdio: ['inherit', log, log, 'ipc'] })
  : fork(TARGET, [], { execArgv: ['--expose-gc', '--import', PROBE, ...flags], stdio: ['inherit', log, log, 'ipc'] });
child.send((relay ? { upstreamUrl: fake.url } : gatewayConfig(fake.url)) as never);
const [{ wsUrl }] = (await once(child, 'message')) as [{ wsUrl: string }];
const client = createSwitchyardClient({ url: wsUrl });
const ask = <T>(message: unknown, key: string) => askChild<T>(child, message, key);

const chats: Chat[] = [];
const windows: Array<{ round: number; from: number; to: number }> = [];
let timeline: Timeline;
let warmedAt: number;
try {
  await runAtConcurrency(WARM_UP, CONCURRENCY, (i) => readChat(client, i));
  warmedAt = now();
  await ask({ timeline: 'start' }, 'timeline');
  await sleep(IDLE_MS);
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) await sleep(GAP_MS);
    const from = now();
    await runAtConcurrency(32, 16, (i) => readChat(client, REQUESTS + i));
    await runAtConcurrency(REQUESTS, CONCURRENCY, async (i) => {
      const at = now();
      const { ttftMs } = await readChat(client, i);
      chats.push({ round, at, ttftMs });
    });
    windows.push({ round, from, to: now() });
  }
  ({ timeline } = await ask<{ timeline: Timeline }>({ timeline: 'stop' }, 'timeline'));
  if (process.env.HEAP_SNAPSHOT !== '0') {
    const { heapSnapshot, heapUsedMb } = await ask<{ heapSnapshot: string; heapUsedMb: number }>({ heapSnapshot: `${out}/end.heapsnapshot` }, 'heapSnapshot');
    console.log(`heap snapshot ${heapSnapshot} (heap used after a full GC: ${heapUsedMb.toFixed(1)} MB)`);
  }
} finally {
  await client.dispose();
  await stopTarget(child);
  await fake.close();
}
writeFileSync(`${out}/timeline.json`, JSON.stringify({ warmedAt, windows, chats, ...timeline, profile: undefined }));
writeFileSync(`${out}/round-zero.cpuprofile`, JSON.stringify(timeline.profile));

const rel = (at: number) => ((at - warmedAt) / 1000).toFixed(2).padStart(7);
const { profile, profileStarted } = timeline;
// Each sample's epoch time and its node.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const c of node.children ?? []) parents.set(c, node.id);
const sampleAt: number[] = [];
let t = profile.startTime;
for (const delta of profile.timeDeltas) sampleAt.push(profileStarted.epochMs + ((t += delta) - profileStarted.monoUs) / 1000);
const frameName = (id: number) => {
  const f = byId.get(id)!.callFrame;
  return `${f.functionName || '(anonymous)'} ${ownerOf(f.url, f.functionName)}:${f.lineNumber + 1}`;
};
/** The JS frames above a sample's leaf, nearest first, up to `depth`. */
const stackOf = (id: number, depth: number) => {
  const names: string[] = [];
  for (let at: number | undefined = id; at !== undefined && names.length < depth; at = parents.get(at)) {
    const f = byId.get(at)!.callFrame;
    if (f.functionName === '(root)') break;
    names.push(frameName(at));
  }
  return names.join(' ← ');
};
function selfIn(from: number, to: number, depth: number): Map<string, number> {
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    if (sampleAt[i]! < from || sampleAt[i]! > to) return;
    const name = stackOf(id, depth);
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  });
  return self;
}
const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);

console.log(`warm-up ${WARM_UP} chats ended at 0 s; idle ${IDLE_MS / 1000} s; rounds of ${REQUESTS} at c=${CONCURRENCY}, ${GAP_MS / 1000} s apart`);
console.log('GC pauses ≥ 1 ms and every mark-sweep over the window (s after warm-up, ms, kind, heap used MB):');
for (const g of timeline.gcs) if (g.ms >= 1 || g.kind !== 'scavenge') console.log(`  ${rel(g.at)} ${g.ms.toFixed(2).padStart(6)} ${g.kind.padEnd(12)} ${g.heapMb.toFixed(1)}`);
for (const w of windows) {
  const ttfts = chats.filter((c) => c.round === w.round).map((c) => c.ttftMs);
  const stalls = timeline.stalls.filter((s) => s.at >= w.from && s.at <= w.to);
  const gcs = timeline.gcs.filter((g) => g.at >= w.from && g.at <= w.to);
  console.log(
    `\nround ${w.round} (${rel(w.from)} – ${rel(w.to)} s): TTFT p50 ${percentile(ttfts, 50).toFixed(1)} p99 ${percentile(ttfts, 99).toFixed(1)} max ${Math.max(...ttfts).toFixed(1)} ms; ` +
      `GC ${gcs.length} pauses, ${gcs.reduce((a, g) => a + g.ms, 0).toFixed(1)} ms (max ${Math.max(0, ...gcs.map((g) => g.ms)).toFixed(1)}); ` +
      `stalls ≥ 3 ms: ${stalls.length}, ${stalls.reduce((a, s) => a + s.lateMs, 0).toFixed(0)} ms (max ${Math.max(0, ...stalls.map((s) => s.lateMs)).toFixed(1)})`,
  );
  const big = stalls.filter((s) => s.lateMs >= 5);
  if (big.length > 0) console.log(`  stalls ≥ 5 ms at: ${big.slice(0, 30).map((s) => `${rel(s.at).trim()}(${s.lateMs.toFixed(0)})`).join(' ')}`);
  // Self time of the samples inside the stalls ≥ 5 ms, by leaf frame and the two frames above it.
  const inStalls = new Map<string, number>();
  let stalledUs = 0;
  for (const s of big) {
    for (const [name, us] of selfIn(s.at - TICK, s.at + s.lateMs, 3)) {
      inStalls.set(name, (inStalls.get(name) ?? 0) + us);
      stalledUs += us;
    }
  }
  if (stalledUs > 0) {
    console.log(`  profile samples inside those stalls: ${(stalledUs / 1000).toFixed(1)} ms; top leaf ← caller ← caller:`);
    for (const [name, us] of top(inStalls, 14)) console.log(`    ${(us / 1000).toFixed(2).padStart(7)} ms  ${name}`);
  }
  const whole = selfIn(w.from, w.to, 1);
  console.log('  whole round, self time by leaf frame:');
  for (const [name, us] of top(whole, 10)) console.log(`    ${(us / 1000).toFixed(1).padStart(7)} ms  ${name}`);
}
