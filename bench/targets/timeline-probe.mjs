/**
 * A preload (`node --import ./timeline-probe.mjs`) for a bench target that records, on the epoch
 * clock the parent also uses, what its main thread did over a window the parent opens and closes
 * over IPC (`{ timeline: 'start' }` … `{ timeline: 'stop' }`, answered `{ timeline }`):
 * - every GC pause (PerformanceObserver on `gc`: start, duration, kind);
 * - each late tick of a 5 ms interval timer (a loop stall ≥ 3 ms);
 * - a V8 CPU profile (inspector, 200 µs sampling) whose samples carry epoch times;
 * - heap used at each GC and at the stop.
 * `{ heapSnapshot: path }` writes a heap snapshot (after a full GC) and answers `{ heapSnapshot: path }`.
 * Plain JavaScript, so the compiled gateway runs it under plain node. Used by scripts/profile-round-zero.ts.
 */
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { writeHeapSnapshot, getHeapStatistics } from 'node:v8';

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-sweep',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};
const TICK_MS = 5;
const STALL_MS = 3;
const epoch = (t) => performance.timeOrigin + t;

let recording = false;
let gcs = [];
let stalls = [];
const observer = new PerformanceObserver((list) => {
  if (!recording) return;
  for (const entry of list.getEntries()) {
    gcs.push({ at: epoch(entry.startTime), ms: entry.duration, kind: KINDS[entry.detail?.kind] ?? String(entry.detail?.kind), heapMb: getHeapStatistics().used_heap_size / 2 ** 20 });
  }
});
observer.observe({ entryTypes: ['gc'] });

let last = performance.now();
setInterval(() => {
  const now = performance.now();
  if (recording && now - last - TICK_MS >= STALL_MS) stalls.push({ at: epoch(last + TICK_MS), lateMs: now - last - TICK_MS });
  last = now;
}, TICK_MS).unref();

let session;
let profileStarted;
// Node holds IPC messages back until the process has a 'message' listener: one added here at
// preload would take the target's configuration before the target listens. So this one is added
// only once the target has its own.
const waiting = setInterval(() => {
  if (process.listenerCount('message') === 0) return;
  clearInterval(waiting);
  process.on('message', answer);
}, 5);
async function answer(message) {
  if (message?.timeline === 'start') {
    gcs = [];
    stalls = [];
    recording = true;
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.TIMELINE_SAMPLING_US ?? 200) });
    await session.post('Profiler.start');
    // The profile's times are µs of the monotonic clock (as process.hrtime); one reading of both
    // clocks maps them to epoch ms.
    profileStarted = { epochMs: epoch(performance.now()), monoUs: Number(process.hrtime.bigint() / 1000n) };
    process.send({ timeline: 'started' });
  } else if (message?.timeline === 'stop') {
    recording = false;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    process.send({ timeline: { profile, profileStarted, gcs, stalls, heapUsedMb: getHeapStatistics().used_heap_size / 2 ** 20 } });
  } else if (typeof message?.heapSnapshot === 'string') {
    globalThis.gc?.();
    process.send({ heapSnapshot: writeHeapSnapshot(message.heapSnapshot), heapUsedMb: getHeapStatistics().used_heap_size / 2 ** 20 });
  }
}
