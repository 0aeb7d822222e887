/**
 * A server process for the memory bench (`subscription-memory.bench.ts`): Switchyard (`switchyard`)
 * or a bare graphql-yoga + graphql-ws server on the same schema (`bare`), whose chat waits forever
 * before its first event. It tells its parent over IPC when it listens, and answers `measure` with
 * its memory after a full garbage collection and the number of chats it has started.
 */
import { writeHeapSnapshot } from 'node:v8';
import type { ModelBackend } from '../../src/models/backend.js';

const kind = process.argv[2];
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
let started = 0;

async function start(): Promise<string> {
  if (kind === 'bare') {
    // Imported per kind, so the bare server's process loads no Switchyard code.
    const { startBareServer } = await import('../bare-server.js');
    const bare = await startBareServer(async function* () {
      started += 1;
      await new Promise(() => {});
    });
    return bare.wsUrl;
  }
  const { buildApp } = await import('../../src/app.js');
  const { parseConfig } = await import('../../src/config/load-config.js');
  const { createLogger } = await import('../../src/logger.js');
  const { createSimulatedBackend } = await import('../../src/models/simulated-backend.js');
  const hour = 3_600_000;
  const config = parseConfig({
    logLevel: 'silent',
    models: [
      {
        id: 'waiting',
        provider: 'simulated',
        ttftMs: hour,
        errorRate: 0,
        timeouts: { firstTokenMs: hour, idleMs: hour, totalMs: hour },
      },
    ],
    arms: [{ id: 'waiting', model: 'waiting' }],
    cache: { enabled: false },
    shadow: { rate: 0 },
    // Every subscription on one WebSocket, all waiting at once: above the per-connection and
    // per-instance bounds of the default configuration (100 operations per connection).
    capacity: { maxSubscriptionsPerConnection: 5_000, maxChats: 5_000, maxUpstreamCalls: 5_000, maxUpstreamCallsPerModel: 5_000 },
  });
  const simulated = createSimulatedBackend(config.models[0] as Extract<(typeof config.models)[0], { provider: 'simulated' }>);
  // Counts the calls without wrapping the stream, so the measured memory is the real path's.
  const counted: ModelBackend = {
    ...simulated,
    stream(request) {
      started += 1;
      return simulated.stream(request);
    },
  };
  const app = buildApp({ config, logger: createLogger('silent'), env: {}, backends: new Map([['waiting', counted]]) });
  const { wsUrl } = await app.start(0, '127.0.0.1');
  return wsUrl;
}

const wsUrl = await start();
process.on('message', (message: unknown) => {
  // `snapshot <path>`: a heap snapshot for scripts/waiting-heap-diff.ts.
  if (typeof message === 'string' && message.startsWith('snapshot ')) {
    for (let i = 0; i < 3; i++) gc();
    process.send!({ started, snapshot: writeHeapSnapshot(message.slice(9)) });
    return;
  }
  if (message !== 'measure') return;
  for (let i = 0; i < 3; i++) gc();
  const memory = process.memoryUsage();
  process.send!({ started, heapUsed: memory.heapUsed, external: memory.external, rss: memory.rss });
});
process.send!({ wsUrl });
