/**
 * `npx tsx scripts/profile-chat-service.ts [arms] [chats]`: Switchyard's own work per chat, without
 * GraphQL or WebSockets: the gateway bench's configuration (zero-latency simulated arms, fixed
 * 20-word chunks), chats run one after another through the chat gate (admission, routing,
 * streaming, learning) as the GraphQL resolver runs them. Prints CPU µs per chat; run it under
 * `node --cpu-prof --import tsx` to see where that goes.
 */
import { buildApp } from '../src/app.js';
import { parseConfig } from '../src/config/load-config.js';
import { createLogger } from '../src/logger.js';

const [armsArg = '4', chatsArg = '20000'] = process.argv.slice(2);
const arms = Number(armsArg);
const chats = Number(chatsArg);
const ids = Array.from({ length: arms }, (_, i) => `zero-${i}`);
const config = parseConfig({
  logLevel: 'silent',
  models: ids.map((id) => ({ id, provider: 'simulated', ttftMs: 0, tokensPerSecond: 0, errorRate: 0, answerTokens: 60 })),
  arms: ids.map((id) => ({ id, model: id })),
  cache: { enabled: false },
  streaming: { minWords: 20, maxWords: 20, pacing: { minMs: 0, maxMs: 0 } },
  shadow: { rate: 0 },
});
const app = buildApp({ config, logger: createLogger('silent'), env: {} });
const principal = { keyId: null, client: 'anonymous@127.0.0.1', scopes: new Set(['chat'] as const), limits: config.auth.anonymousLimits };

async function chatOnce(i: number): Promise<number> {
  const stream = await app.services.gate.chat(principal as never, {
    messages: [{ role: 'user', content: `benchmark question ${i}` }],
    cache: false,
    session: null,
  } as never);
  let events = 0;
  for await (const _event of stream) events++;
  return events;
}

for (let i = 0; i < 2_000; i++) await chatOnce(i);
const cpu = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < chats; i++) await chatOnce(i);
const used = process.cpuUsage(cpu);
const wallMs = performance.now() - started;
console.log(
  `${arms} arm(s), ${chats} chats: ${((used.user + used.system) / chats).toFixed(1)} µs CPU per chat, ` +
    `${((wallMs * 1000) / chats).toFixed(1)} µs wall; ${await chatOnce(-1)} events per chat`,
);
await app.stop();
