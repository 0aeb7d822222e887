/**
 * `npm run build && npx tsx scripts/profile-dispatch.ts [chats] [rounds]`: how long a chat takes
 * from the client's `subscribe()` to Switchyard's upstream request, and where along that way, in
 * the upstream bench's in-process set-up (bench/upstream.bench.ts: the same fake server, config,
 * client and query) on the compiled build. Marks per chat: the client's subscribe, the chat gate
 * entered, the gate's stream handed back, undici's `undici:request:create` (the upstream request
 * made) and `undici:client:sendHeaders` (written), and the client's first chunk. After the bench's
 * warm-up, `rounds` rounds of `chats` chats at concurrency 1 and 16; printed: the median and p90 of
 * each step in ms, per concurrency (at c=16 chats are told apart by their prompt's number).
 * With `--cpu` last, one more round at c=1 is profiled (20 µs sampling), and what ran under the
 * chat gate's `chat` (the admission and, since the chat stream opens at once, everything up to the
 * upstream request) is printed: self time by owner and function, and time by function inclusive.
 */
import diagnostics from 'node:diagnostics_channel';
import { Session } from 'node:inspector/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ChatDocument } from '../src/client/generated/graphql.js';
import { createSwitchyardClient } from '../src/client/switchyard-client.js';
import { startFakeOpenAI } from '../test/fakes/openai-server.js';
import { percentile, runAtConcurrency } from '../bench/bench-kit.js';
import { Agent } from 'undici';
import { gatewayConfig, readDirect, SCRIPT, WARM_UP } from '../bench/upstream.bench.js';
import { printProfile, selfTime, sourceLine, type Profile } from './profile-kit.js';

const [chatsArg = '400', roundsArg = '3', cpuArg = ''] = process.argv.slice(2);
const chats = Number(chatsArg);
const rounds = Number(roundsArg);
const dist = new URL('../dist/', import.meta.url);
if (!existsSync(fileURLToPath(new URL('app.js', dist)))) throw new Error('no dist/: run `npm run build` first');

const { buildApp } = (await import(new URL('app.js', dist).href)) as typeof import('../src/app.js');
const { parseConfig } = (await import(new URL('config/load-config.js', dist).href)) as typeof import('../src/config/load-config.js');
const { createLogger } = (await import(new URL('logger.js', dist).href)) as typeof import('../src/logger.js');

type Mark = 'subscribe' | 'gate' | 'gateDone' | 'request' | 'headersSent' | 'firstChunk';
const marks = new Map<number, Partial<Record<Mark, number>>>();
const mark = (i: number, name: Mark) => {
  const chat = marks.get(i);
  if (chat !== undefined && chat[name] === undefined) chat[name] = performance.now();
};
const chatNumber = (text: string): number => Number(/benchmark question (\d+)/.exec(text)?.[1] ?? -1);
const bodies = new WeakMap<object, number>();

diagnostics.channel('undici:request:create').subscribe((message) => {
  const { request } = message as { request: { body: unknown } };
  const body = request.body;
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString() : '';
  const i = chatNumber(text);
  bodies.set(request, i);
  mark(i, 'request');
});
diagnostics.channel('undici:client:sendHeaders').subscribe((message) => {
  const i = bodies.get((message as { request: object }).request);
  if (i !== undefined) mark(i, 'headersSent');
});

let connects = 0;
diagnostics.channel('undici:client:beforeConnect').subscribe(() => {
  connects += 1;
});

const fake = await startFakeOpenAI({ script: SCRIPT });
const app = buildApp({ config: parseConfig(gatewayConfig(fake.url)), logger: createLogger('silent'), env: {} });
const gate = app.services.gate;
const chatThroughGate = gate.chat.bind(gate);
gate.chat = (principal, input) => {
  const i = chatNumber(input.messages[0]?.content ?? '');
  mark(i, 'gate');
  const started = chatThroughGate(principal, input);
  void started.then(() => mark(i, 'gateDone'), () => undefined);
  return started;
};
const { wsUrl } = await app.start(0, '127.0.0.1');
const client = createSwitchyardClient({ url: wsUrl });

async function chat(i: number): Promise<void> {
  marks.set(i, { subscribe: performance.now() });
  const variables = { input: { messages: [{ role: 'USER' as const, content: `benchmark question ${i}` }], cache: false } };
  for await (const result of client.subscribe(ChatDocument, variables)) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    if (result.data!.chat.__typename === 'ChatChunk') mark(i, 'firstChunk');
  }
}

const STEPS: ReadonlyArray<readonly [string, Mark, Mark]> = [
  ['subscribe → gate', 'subscribe', 'gate'],
  ['gate → gate resolved', 'gate', 'gateDone'],
  ['gate resolved → upstream request made', 'gateDone', 'request'],
  ['gate → upstream request made', 'gate', 'request'],
  ['request made → headers written', 'request', 'headersSent'],
  ['subscribe → upstream request made', 'subscribe', 'request'],
  ['subscribe → upstream headers written', 'subscribe', 'headersSent'],
  ['subscribe → first chunk (TTFT)', 'subscribe', 'firstChunk'],
];

let next = 1_000_000;
try {
  await runAtConcurrency(WARM_UP, 16, () => chat(next++));
  for (const concurrency of [1, 16]) {
    const steps = new Map<string, number[]>(STEPS.map(([name]) => [name, []]));
    for (let round = 0; round < rounds; round++) {
      marks.clear();
      connects = 0;
      await runAtConcurrency(chats, concurrency, () => chat(next++));
      console.log(`  round ${round + 1}: ${connects} new upstream connections`);
      for (const chatMarks of marks.values()) {
        for (const [name, from, to] of STEPS) {
          const a = chatMarks[from];
          const b = chatMarks[to];
          if (a !== undefined && b !== undefined) steps.get(name)!.push(b - a);
        }
      }
    }
    console.log(`c=${concurrency}, ${rounds} × ${chats} chats: ms, p50 / p90`);
    for (const [name, values] of steps) {
      console.log(`  ${name.padEnd(40)} ${percentile(values, 50).toFixed(3)} / ${percentile(values, 90).toFixed(3)}  (n=${values.length})`);
    }
  }
  if (cpuArg === '--cpu') await profileGate();
  // The same step for the direct reader (the bench's baseline), at c=16.
  const agent = new Agent({ connections: 64 });
  await runAtConcurrency(WARM_UP, 16, () => readDirect(agent, fake.url, next++));
  const written: number[] = [];
  for (let round = 0; round < rounds; round++) {
    marks.clear();
    const first = next;
    await runAtConcurrency(chats, 16, () => {
      const i = next++;
      marks.set(i, {});
      return readDirect(agent, fake.url, i);
    });
    for (let i = first; i < next; i++) {
      const m = marks.get(i);
      if (m?.request !== undefined && m.headersSent !== undefined) written.push(m.headersSent - m.request);
    }
  }
  console.log(`direct reader, c=16: request made → headers written ${percentile(written, 50).toFixed(3)} / ${percentile(written, 90).toFixed(3)} (n=${written.length})`);
  await agent.close();
} finally {
  await client.dispose();
  await app.stop();
  await fake.close();
}

/** Samples under the gate's `chat`, by self and inclusive time (µs per chat). */
async function profileGate(): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 20 });
  await session.post('Profiler.start');
  await runAtConcurrency(chats, 1, () => chat(next++));
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
  session.disconnect();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const underGate = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.functionName === 'chat' && frame.url.endsWith('/chat/chat-gate.js')) return true;
    }
    return false;
  };
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  const inclusive = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    if (!underGate(id)) return;
    const us = profile.timeDeltas[i] ?? 0;
    samples.push(id);
    timeDeltas.push(us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const name = `${frame.functionName || '(anonymous)'} ${frame.url.slice(frame.url.lastIndexOf('/', frame.url.lastIndexOf('/') - 1) + 1)}:${sourceLine(frame)}`;
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  });
  const time = selfTime({ nodes: profile.nodes, samples, timeDeltas });
  printProfile('under the chat gate, c=1', time, chats, { wallMs: 0, cpuUs: 0, topFunctions: 30, topOwners: 12 });
  console.log('  inclusive:');
  for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 45)) {
    console.log(`  ${(us / chats).toFixed(1).padStart(7)} µs  ${name}`);
  }
}
