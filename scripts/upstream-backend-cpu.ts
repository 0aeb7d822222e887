/**
 * `npm run build && npx tsx scripts/upstream-backend-cpu.ts [streams] [rounds] [otherDist]`: the
 * CPU one OpenAI-format stream costs the SSE backend alone (undici, the SSE parser, the
 * translation, the batches), without GraphQL, WebSockets or the chat path, whose noise hides a
 * change of a few percent in the upstream bench. The bench's fake server (50 tokens, 1 ms apart)
 * runs in a child process so that its CPU is not counted; this process reads `streams` streams at
 * concurrency 16 through the compiled backend of `dist/` and, given `otherDist` (another build's
 * dist/, say main's), through that one too, alternating rounds so both share the machine's load.
 * Printed: µs of this process's CPU (user + system) per stream, each round and the median.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runAtConcurrency } from '../bench/bench-kit.js';

const [streamsArg = '4000', roundsArg = '5', otherDist] = process.argv.slice(2);
const streams = Number(streamsArg);
const rounds = Number(roundsArg);
const CONCURRENCY = 16;

interface Backend {
  stream(request: unknown): AsyncIterable<unknown> & { batches?: () => AsyncIterable<unknown> };
  close(): Promise<void>;
}

const fakeSource = `
  const { startFakeOpenAI } = await import(${JSON.stringify(pathToFileURL(resolve('test/fakes/openai-server.ts')).href)});
  const { SCRIPT } = await import(${JSON.stringify(pathToFileURL(resolve('bench/upstream.bench.ts')).href)});
  const fake = await startFakeOpenAI({ script: SCRIPT });
  process.send(fake.url);
`;

async function loadBackend(dist: string, url: string): Promise<Backend> {
  const root = pathToFileURL(resolve(dist)).href;
  const { createOpenAIBackend } = (await import(`${root}/models/openai-backend.js`)) as {
    createOpenAIBackend(config: unknown, deps: unknown): Backend;
  };
  const { configSchemas } = (await import(`${root}/config/schema.js`)) as { configSchemas(): { modelSchema: { parse(v: unknown): unknown } } };
  const { createSilentLogger } = (await import(`${root}/logger.js`)) as { createSilentLogger(): unknown };
  const config = configSchemas().modelSchema.parse({ id: 'gpt', provider: 'openai', baseUrl: url, model: 'gpt-4o-mini' });
  return createOpenAIBackend(config, { logger: createSilentLogger() });
}

const request = () => ({
  messages: [{ role: 'user', content: 'Say hello.' }],
  maxTokens: 64,
  signal: new AbortController().signal,
});

async function readAll(backend: Backend): Promise<void> {
  const events = backend.stream(request());
  for await (const batch of events.batches?.() ?? events) void batch;
}

async function cpuPerStream(backend: Backend, count: number): Promise<number> {
  const before = process.cpuUsage();
  await runAtConcurrency(count, CONCURRENCY, () => readAll(backend));
  const used = process.cpuUsage(before);
  if (process.env.CPU_SPLIT) console.log(`  user ${(used.user / count).toFixed(1)} system ${(used.system / count).toFixed(1)}`);
  return (used.user + used.system) / count;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const fake = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', fakeSource], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const [url] = (await once(fake, 'message')) as [string];
const targets = [{ name: 'dist', backend: await loadBackend('dist', url) }];
if (otherDist !== undefined) targets.push({ name: otherDist, backend: await loadBackend(otherDist, url) });
// Warm-up: JIT tiers and pooled connections for every target.
for (const target of targets) await cpuPerStream(target.backend, 2_000);
const figures = new Map<string, number[]>(targets.map((t) => [t.name, []]));
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? targets : [...targets].reverse();
  for (const target of order) figures.get(target.name)!.push(await cpuPerStream(target.backend, streams));
}
for (const target of targets) {
  const values = figures.get(target.name)!;
  console.log(`${target.name.padEnd(24)} µs CPU per stream: median ${median(values).toFixed(1)} (rounds ${values.map((v) => v.toFixed(1)).join(', ')})`);
}
if (otherDist !== undefined) {
  console.log(`ratio dist / ${otherDist}: ${(median(figures.get('dist')!) / median(figures.get(otherDist)!)).toFixed(3)}`);
}
await Promise.all(targets.map((t) => t.backend.close()));
fake.kill();
