/**
 * The upstream bench's bare relay (bench/bare-relay.ts) in a process of its own, run under tsx: its
 * own code is the relay and the repo's SSE parser, the rest is node_modules, loaded as under plain
 * node. The parent sends `{ upstreamUrl }` over IPC; the relay answers with its WebSocket URL,
 * collects its garbage on `gc`, stops on `stop`, and can be profiled (child-profiler.mjs).
 */
import { startBareRelay } from '../bare-relay.js';
import { answerProfileRequests } from './child-profiler.mjs';

process.once('message', async ({ upstreamUrl }: { upstreamUrl: string }) => {
  const relay = await startBareRelay(upstreamUrl);
  answerProfileRequests();
  process.on('message', async (message) => {
    // A full GC when the parent asks (forked with --expose-gc): after warm-up, see bench/upstream.bench.ts.
    if (message === 'gc') return void (globalThis.gc?.(), process.send!({ collected: globalThis.gc !== undefined }));
    if (message !== 'stop') return;
    await relay.close();
    process.exit(0);
  });
  process.send!({ wsUrl: relay.wsUrl });
});
