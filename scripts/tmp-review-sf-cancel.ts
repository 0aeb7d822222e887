import { buildApp } from '/work/main/src/app.js';
import { parseConfig } from '/work/main/src/config/load-config.js';
import { createLogger } from '/work/main/src/logger.js';
import { createSimulatedBackend } from '/work/main/src/models/simulated-backend.js';
import type { ModelBackend, CompletionRequest } from '/work/main/src/models/backend.js';

async function trial(cache: boolean) {
  const model = { id: 'm', provider: 'simulated', ttftMs: 4000, tokensPerSecond: 0, errorRate: 0, quality: 0.5, answerTokens: 5,
    timeouts: { connectMs: 1000, firstTokenMs: 10000, idleMs: 10000, totalMs: 60000 } };
  const config = parseConfig({ logLevel: 'silent', models: [model], arms: [{ id: 'a', model: 'm' }], shadow: { rate: 0 } });
  const inner = createSimulatedBackend(config.models[0] as any);
  let abortedAt = -1;
  const t0 = performance.now();
  const observed: ModelBackend = { ...inner, stream(r: CompletionRequest) { r.signal.addEventListener('abort', () => { abortedAt = performance.now() - t0; }); return inner.stream(r); } };
  const app = buildApp({ config, logger: createLogger('silent'), env: {}, backends: new Map([['m', observed]]) });
  const gen = app.services.chat.chat({ messages: [{ role: 'user', content: 'hello there' }], cache });
  const first = gen.next();
  first.catch(() => undefined);
  await new Promise((r) => setTimeout(r, 100));
  const r0 = performance.now();
  await gen.return(undefined);
  const returnMs = performance.now() - r0;
  console.log(`cache=${cache}: return() took ${returnMs.toFixed(0)} ms; model signal aborted at ${abortedAt.toFixed(0)} ms after start (return called at ~100 ms)`);
  await app.stop();
}
await trial(false);
await trial(true);
