/**
 * `npx tsx scripts/profile-chats.ts [gateway|upstream] [chats] [concurrency]`: CPU-profiles the
 * compiled gateway (`npm run build` first) while this process drives chats at it over graphql-ws,
 * then prints where the gateway's CPU went: self time by package or source file, and the hottest
 * functions, from the first client message on (start-up excluded). `gateway` streams from a zero-latency simulated model (4 arms); `upstream` from a
 * local OpenAI-format server (50 tokens, 1 ms apart). The .cpuprofile is kept for a viewer
 * (Chrome DevTools, speedscope); `npx tsx scripts/profile-chats.ts summary FILE` summarises one again.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatDocument } from '../src/client/generated/graphql.js';
import { createSwitchyardClient } from '../src/client/switchyard-client.js';
import { startFakeOpenAI } from '../test/fakes/openai-server.js';
import { runAtConcurrency } from '../bench/bench-kit.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const [scenario = 'gateway', chatsArg = '4000', concurrencyArg = '16'] = process.argv.slice(2);
const chats = Number(chatsArg);
const concurrency = Number(concurrencyArg);

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly children?: number[];
}
interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

function bucketOf(url: string): string {
  if (url === '') return '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  const dist = url.indexOf('/dist/');
  return dist === -1 ? url : url.slice(dist + 1);
}

/** Coarse layers of the gateway, for before/after tables. */
const LAYERS: Array<[string, (bucket: string, fn: string) => boolean]> = [
  ['socket writes (writev)', (_b, fn) => fn === 'writev'],
  ['garbage collector', (_b, fn) => fn === '(garbage collector)'],
  ['tokenizer', (b) => b === 'js-tiktoken' || b === 'gpt-tokenizer'],
  ['routing (dist/router)', (b) => b.startsWith('dist/router/')],
  [
    'token path (models, streaming, chat; their timers, signals, listeners)',
    (b) =>
      /^dist\/(models|streaming|chat)\//.test(b) ||
      ['node:internal/abort_controller', 'node:internal/event_target', 'node:internal/timers', 'node:timers', 'node:internal/per_context/domexception'].includes(b),
  ],
  ['GraphQL execution (graphql, @graphql-tools, envelop, whatwg-node)', (b) => /^(graphql|@graphql-tools\/|@envelop\/|@whatwg-node\/|graphql-yoga|@pothos\/)/.test(b) && b !== 'graphql-ws'],
  ['graphql-ws + ws', (b) => b === 'graphql-ws' || b === 'ws'],
  ['HTTP client (undici, node streams)', (b) => b === 'undici' || b.startsWith('node:internal/streams') || b === 'node:internal/stream_base_commons' || b.startsWith('wasm://')],
];

function summarise(profile: Profile): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const servesClients = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      if (bucketOf(byId.get(at)!.callFrame.url) === 'graphql-ws') return true;
    }
    return false;
  };
  // Start-up (loading modules, building the schema) is not what the chats cost: samples count from
  // the first one inside graphql-ws, the first client message.
  const first = profile.samples.findIndex(servesClients);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (i >= first) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  let total = 0;
  let idle = 0;
  const buckets = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    total += us;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const bucket = bucketOf(frame.url);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + us);
    const name = `${frame.functionName || '(anonymous)'} ${bucket}:${frame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const layers = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    const layer = LAYERS.find(([, test]) => test(bucketOf(frame.url), frame.functionName))?.[0] ?? 'other';
    layers.set(layer, (layers.get(layer) ?? 0) + us);
  }
  console.log('by layer:');
  for (const [name, us] of [...layers].sort((a, b) => b[1] - a[1])) console.log(`  ${pct(us)}  ${name}`);
  console.log(`busy ${(busy / 1e3).toFixed(0)} ms of ${(total / 1e3).toFixed(0)} ms sampled; shares of busy time:`);
  for (const [bucket, us] of [...buckets].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${pct(us)}  ${bucket}`);
  console.log('hottest functions (self time):');
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`  ${pct(us)}  ${name}`);
}

async function main(): Promise<void> {
  const fake = scenario === 'upstream'
    ? await startFakeOpenAI({ script: { tokens: Array.from({ length: 50 }, (_, i) => ` tok${i}`), firstTokenDelayMs: 20, tokenDelayMs: 1 } })
    : undefined;
  const zero = (id: string) => ({ id, provider: 'simulated', ttftMs: 0, tokensPerSecond: 0, errorRate: 0, answerTokens: 60 });
  const ids = ['zero-0', 'zero-1', 'zero-2', 'zero-3'];
  const config = fake
    ? {
        models: [{ id: 'local', provider: 'openai', baseUrl: fake.url, model: 'bench' }],
        arms: [{ id: 'local', model: 'local' }],
      }
    : { models: ids.map(zero), arms: ids.map((id) => ({ id, model: id })) };
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-profile-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({ ...config, logLevel: 'warn', cache: { enabled: false }, shadow: { rate: 0 }, streaming: { pacing: { minMs: 0, maxMs: 0 } } }),
  );
  const server = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, join(ROOT, 'dist', 'main.js')], {
    env: { ...process.env, SWITCHYARD_CONFIG: configFile, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    server.stdout.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /"url":"(http[^"]+)"/.exec(output);
      if (match) resolve(match[1]!.replace('http', 'ws'));
    });
    server.once('exit', (code) => reject(new Error(`the gateway exited with ${code}`)));
  });
  const client = createSwitchyardClient({ url, lazy: false });
  const chat = async (i: number) => {
    for await (const result of client.subscribe(ChatDocument, {
      input: { messages: [{ role: 'USER', content: `profile question ${i}` }], cache: false },
    })) {
      if (result.errors) throw new Error(JSON.stringify(result.errors));
    }
  };
  const run = await runAtConcurrency(chats, concurrency, chat);
  console.log(`${chats} chats at concurrency ${concurrency}: ${((chats * 1000) / run.elapsedMs).toFixed(0)} chats/s`);
  await client.dispose();
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  await exited;
  await fake?.close();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  console.log(`profile: ${join(dir, file)}`);
  summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile);
}

if (scenario === 'summary') summarise(JSON.parse(readFileSync(chatsArg, 'utf8')) as Profile);
else await main();
