/**
 * Lets the parent of a bench target CPU-profile it over IPC, so a profile covers only the chats
 * the parent drives between `{ profile: 'start' }` and `{ profile: 'stop' }` (not start-up or
 * warm-up). The inspector samples every 100 µs; on stop the target answers
 * `{ profile, cpuUs }`: the V8 CPU profile and the process CPU time (user + system, µs) it covers.
 * Plain JavaScript, so the compiled gateway's target can load it under plain node.
 */
import { Session } from 'node:inspector/promises';

export function answerProfileRequests() {
  let session;
  let cpu;
  process.on('message', async (message) => {
    if (message?.profile === 'start') {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
      cpu = process.cpuUsage();
      process.send({ profiling: true });
    } else if (message?.profile === 'stop') {
      const used = process.cpuUsage(cpu);
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      process.send({ profile, cpuUs: used.user + used.system });
    }
  });
}
