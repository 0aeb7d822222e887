/**
 * Lets the parent of a bench target measure it over IPC, so a figure covers only the chats the
 * parent drives in between (not start-up or warm-up):
 * - `{ profile: 'start' }` … `{ profile: 'stop' }`: a V8 CPU profile of the main thread (inspector,
 *   100 µs sampling), answered as `{ profile, cpu }`;
 * - `{ cpu: 'start' }` … `{ cpu: 'stop' }`: no profiler, answered as `{ cpu }`.
 * `cpu` is the process's user and system time (µs) and each thread's, by thread name, from
 * /proc/self/task (Linux; clock ticks of 10 ms, so only long windows say much): the profile sees
 * only the main thread's JavaScript, and sampled system time in a socket read looks idle to it.
 * Plain JavaScript, so the compiled gateway's target can load it under plain node.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

const TICK_US = 10_000;

/** User and system µs of each thread, keyed `name (main)` for the main thread or `name`, summed by name. */
function threadTimes() {
  const times = {};
  let tasks = [];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return times;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // The name is in brackets and may hold spaces; the fields after it are space-separated.
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) + (Number(tid) === process.pid ? ' (main)' : '');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const entry = (times[name] ??= { userUs: 0, systemUs: 0 });
      entry.userUs += Number(fields[11]) * TICK_US;
      entry.systemUs += Number(fields[12]) * TICK_US;
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return times;
}

function startCpu() {
  return { process: process.cpuUsage(), threads: threadTimes() };
}

function stopCpu(started) {
  const used = process.cpuUsage(started.process);
  const threads = {};
  for (const [name, now] of Object.entries(threadTimes())) {
    const before = started.threads[name] ?? { userUs: 0, systemUs: 0 };
    threads[name] = { userUs: now.userUs - before.userUs, systemUs: now.systemUs - before.systemUs };
  }
  return { userUs: used.user, systemUs: used.system, threads };
}

export function answerProfileRequests() {
  let session;
  let cpu;
  process.on('message', async (message) => {
    if (message?.cpu === 'start') {
      cpu = startCpu();
      process.send({ measuring: true });
    } else if (message?.cpu === 'stop') {
      process.send({ cpu: stopCpu(cpu) });
    } else if (message?.profile === 'start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
      cpu = startCpu();
      process.send({ profiling: true });
    } else if (message?.profile === 'stop') {
      const used = stopCpu(cpu);
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      process.send({ profile, cpu: used });
    }
  });
}
