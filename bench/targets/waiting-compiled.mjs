/**
 * The memory bench's Switchyard server on the compiled build (`npm run build`), run by plain node:
 * what a deployment runs. Under tsx every function Switchyard creates also gets an own `name`
 * property (esbuild's keepNames), a property store of ~256 bytes per closure, which inflates the
 * figure of `waiting-server.ts switchyard` by several KB per subscription. Same configuration and
 * protocol as waiting-server.ts (keep them in step).
 */
const gc = globalThis.gc;
if (gc === undefined) throw new Error('run with --expose-gc');
let started = 0;

const dist = new URL('../../dist/', import.meta.url);
const { buildApp } = await import(new URL('app.js', dist).href);
const { parseConfig } = await import(new URL('config/load-config.js', dist).href);
const { createLogger } = await import(new URL('logger.js', dist).href);
const { createSimulatedBackend } = await import(new URL('models/simulated-backend.js', dist).href);
const hour = 3_600_000;
const config = parseConfig({
  logLevel: 'silent',
  models: [{ id: 'waiting', provider: 'simulated', ttftMs: hour, errorRate: 0, timeouts: { firstTokenMs: hour, idleMs: hour, totalMs: hour } }],
  arms: [{ id: 'waiting', model: 'waiting' }],
  cache: { enabled: false },
  shadow: { rate: 0 },
  capacity: { maxSubscriptionsPerConnection: 5_000, maxChats: 5_000, maxUpstreamCalls: 5_000, maxUpstreamCallsPerModel: 5_000 },
});
const simulated = createSimulatedBackend(config.models[0]);
const counted = {
  ...simulated,
  stream(request) {
    started += 1;
    return simulated.stream(request);
  },
};
const app = buildApp({ config, logger: createLogger('silent'), env: {}, backends: new Map([['waiting', counted]]) });
const { wsUrl } = await app.start(0, '127.0.0.1');
process.on('message', async (message) => {
  // `snapshot <path>`: a heap snapshot for scripts/waiting-heap-diff.ts.
  if (typeof message === 'string' && message.startsWith('snapshot ')) {
    for (let i = 0; i < 3; i++) gc();
    const { writeHeapSnapshot } = await import('node:v8');
    process.send({ started, snapshot: writeHeapSnapshot(message.slice(9)) });
    return;
  }
  if (message !== 'measure') return;
  for (let i = 0; i < 3; i++) gc();
  const memory = process.memoryUsage();
  process.send({ started, heapUsed: memory.heapUsed, external: memory.external, rss: memory.rss });
});
process.send({ wsUrl });
