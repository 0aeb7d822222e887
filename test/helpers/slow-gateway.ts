import type { SimulatedModelConfig } from '../../src/config/schema.js';
import type { CompletionRequest, ModelBackend } from '../../src/models/backend.js';
import { createSimulatedBackend } from '../../src/models/simulated-backend.js';
import { startGateway, testConfigInput } from './gateway.js';

/**
 * A gateway whose only model answers slowly (400 tokens at 20 per second), wrapped to observe, at
 * the model boundary, the abort signal each call receives.
 */
export async function startSlowGateway(ttftMs = 0) {
  const aborted: number[] = [];
  let started = 0;
  const slow: SimulatedModelConfig = {
    id: 'm-slow',
    provider: 'simulated',
    ttftMs,
    tokensPerSecond: 20,
    errorRate: 0,
    quality: 0.5,
    inputPer1k: 0,
    outputPer1k: 0,
    answerTokens: 400,
    timeouts: { connectMs: 1_000, firstTokenMs: 10_000, idleMs: 10_000, totalMs: 60_000 },
  };
  const inner = createSimulatedBackend(slow);
  const observed: ModelBackend = {
    ...inner,
    stream(request: CompletionRequest) {
      started += 1;
      request.signal.addEventListener('abort', () => aborted.push(performance.now()), { once: true });
      return inner.stream(request);
    },
  };
  const gateway = await startGateway({
    config: { ...testConfigInput(), models: [slow], arms: [{ id: 'slow', model: 'm-slow' }] },
    backends: new Map([['m-slow', observed]]),
  });
  return { gateway, aborted, started: () => started };
}

