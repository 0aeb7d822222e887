import { createModelManager } from '/work/main/src/models/model-manager.js';
import { parseConfig } from '/work/main/src/config/load-config.js';
import { createLogger } from '/work/main/src/logger.js';
import { UpstreamError, type ModelBackend, type CompletionRequest } from '/work/main/src/models/backend.js';
import { setTimeout as sleep } from 'node:timers/promises';

const config = parseConfig({ logLevel: 'silent', models: [{ id: 'm', provider: 'openai', baseUrl: 'http://127.0.0.1:1/v1', model: 'x', circuit: { failureThreshold: 1, openMs: 1000 } }], arms: [{ id: 'a', model: 'm' }] });
let t = 0;
let fail = true;
const backend: ModelBackend = { id: 'm', provider: 'openai', pricing: { inputPer1k: 0, outputPer1k: 0 },
  async *stream(r: CompletionRequest) {
    if (fail) throw new UpstreamError('UPSTREAM_HTTP_ERROR', 'boom', { retryable: true });
    await sleep(10_000, undefined, { signal: r.signal });
    yield { type: 'token', text: 'x' };
  } };
const models = createModelManager({ models: config.models, env: {}, logger: createLogger('silent'), now: () => t, backends: new Map([['m', backend]]) });
const req = (signal: AbortSignal) => ({ messages: [{ role: 'user' as const, content: 'hi' }], maxTokens: 5, signal });
try { for await (const _ of models.stream('m', req(new AbortController().signal))) {} } catch (e) { console.log('1st call failed:', (e as Error).message); }
console.log('after failure, available =', models.isAvailable('m'), models.view('m').health.status);
t = 1000; fail = false;
console.log('openMs later, available =', models.isAvailable('m'), models.view('m').health.status);
const c = new AbortController();
const probe = (async () => { try { for await (const _ of models.stream('m', req(c.signal))) {} } catch (e) { return (e as Error).message; } })();
await sleep(20); c.abort(new Error('client left'));
console.log('probe ended:', await probe);
console.log('right after the aborted probe, available =', models.isAvailable('m'));
t = 1999;
console.log('999 ms later, available =', models.isAvailable('m'));
