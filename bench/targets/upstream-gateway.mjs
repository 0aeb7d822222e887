/**
 * The upstream bench's gateway in a process of its own, as deployed: the compiled build
 * (`npm run build`) under plain node, or, without a build, the sources under tsx
 * (`UPSTREAM_GATEWAY_SOURCES=1`, set by the bench), or another build's compiled directory
 * (`UPSTREAM_GATEWAY_DIST=/path/to/dist`, for an A/B of two builds in the same minutes). The parent sends the configuration over IPC;
 * the gateway answers with its WebSocket URL, collects its garbage on `gc`, stops on `stop`, and can be
 * profiled (child-profiler.mjs).
 */
import { pathToFileURL } from 'node:url';
import { answerProfileRequests } from './child-profiler.mjs';

const base = process.env.UPSTREAM_GATEWAY_DIST
  ? pathToFileURL(`${process.env.UPSTREAM_GATEWAY_DIST.replace(/\/$/, '')}/`)
  : new URL(process.env.UPSTREAM_GATEWAY_SOURCES ? '../../src/' : '../../dist/', import.meta.url);
const { buildApp } = await import(new URL('app.js', base).href);
const { parseConfig } = await import(new URL('config/load-config.js', base).href);
const { createLogger } = await import(new URL('logger.js', base).href);

process.once('message', async (config) => {
  const app = buildApp({ config: parseConfig(config), logger: createLogger('silent'), env: {} });
  const { wsUrl } = await app.start(0, '127.0.0.1');
  answerProfileRequests();
  process.on('message', async (message) => {
    // A full GC when the parent asks (forked with --expose-gc): after warm-up, see bench/upstream.bench.ts.
    if (message === 'gc') return (globalThis.gc?.(), process.send({ collected: globalThis.gc !== undefined }));
    if (message !== 'stop') return;
    await app.stop();
    process.exit(0);
  });
  process.send({ wsUrl });
});
