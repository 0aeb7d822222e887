/**
 * `npx tsx scripts/gateway-warm-up-curve.ts [bare|switchyard] [warm-up chats] [blocks] [concurrency] [arms]`:
 * how the gateway bench's cost per chat falls while the JIT settles. Serves `warm-up chats` at
 * concurrency 16 (the bench's warm-up was 200), then `blocks` blocks of 500 chats at `concurrency`,
 * and prints each block's wall and process CPU time per chat (client included, as in the bench).
 * One server per process, so neither side warms the code the other runs.
 */
import { buildApp } from '../src/app.js';
import { createSwitchyardClient } from '../src/client/switchyard-client.js';
import { createLogger } from '../src/logger.js';
import { startBareServer } from '../bench/bare-server.js';
import { runAtConcurrency } from '../bench/bench-kit.js';
import { chatOnce, configWithArms } from '../bench/gateway.bench.js';

const [which = 'switchyard', warmUpArg = '200', blocksArg = '24', concurrencyArg = '1', armsArg = '1'] = process.argv.slice(2);
const BLOCK = 500;

const app = buildApp({ config: configWithArms(Number(armsArg)), logger: createLogger('silent'), env: {} });
const { wsUrl } = await app.start(0, '127.0.0.1');
const switchyard = createSwitchyardClient({ url: wsUrl, lazy: false });
const sample = await chatOnce(switchyard, -1);
const bare = which === 'bare' ? await startBareServer(async function* () {
  for (const event of sample) yield { chat: event };
}) : undefined;
const bareClient = bare ? createSwitchyardClient({ url: bare.wsUrl, lazy: false }) : undefined;
const client = bareClient ?? switchyard;
try {
  await runAtConcurrency(Number(warmUpArg), 16, (i) => chatOnce(client, i));
  const blocks: string[] = [];
  for (let b = 0; b < Number(blocksArg); b++) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    await runAtConcurrency(BLOCK, Number(concurrencyArg), (i) => chatOnce(client, i));
    const used = process.cpuUsage(cpu);
    blocks.push(`${((1000 * (performance.now() - started)) / BLOCK).toFixed(0)}/${((used.user + used.system) / BLOCK).toFixed(0)}`);
  }
  console.log(`${which}, ${armsArg} arm(s), c=${concurrencyArg} after ${warmUpArg} chats at c=16; wall/CPU µs per chat, blocks of ${BLOCK}:`);
  console.log(`  ${blocks.join(' ')}`);
} finally {
  await bareClient?.dispose();
  await switchyard.dispose();
  await bare?.close();
  await app.stop();
}
