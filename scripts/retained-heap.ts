/**
 * What the upstream bench's servers keep on the heap as chats accumulate (docs/performance.md,
 * "Stop 21": Switchyard's heap 50 MB at the end against the relay's 28 MB). Each server runs in its
 * own process as the bench's `own process` rows run it (bench/upstream.bench.ts: same fake server,
 * configuration, client and query; Switchyard compiled, the relay under tsx), with
 * bench/targets/timeline-probe.mjs preloaded. After `warm` chats at c=16 it takes a heap snapshot
 * (after a full GC; and one before the first chat, for the heap used at start), serves `chats` more, and takes another. Printed for each: heap used after the
 * full GC at both points, the second snapshot's self size by kind (code, strings, ...), and the
 * objects the second has and the first has not (V8 keeps node ids across one process's snapshots)
 * by kind, name and what holds them, in bytes per chat: what each chat leaves behind.
 *
 *   npm run build && npx tsx scripts/retained-heap.ts [chats=5000] [warm=500] [switchyard|relay|both] [--top=30] [--keep=DIR]
 *
 * `--keep=DIR` keeps the three snapshots (`<server>-0`, `-a`, `-b`) in DIR, for scripts/heap-owners.ts.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSwitchyardClient } from '../src/client/switchyard-client.js';
import { startFakeOpenAI } from '../test/fakes/openai-server.js';
import { runAtConcurrency } from '../bench/bench-kit.js';
import { askChild } from './profile-kit.js';
import { COMPILED, gatewayConfig, readChat, SCRIPT, stopTarget } from '../bench/upstream.bench.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const chats = Number(args[0] ?? 5_000);
const warm = Number(args[1] ?? 500);
const which = args[2] ?? 'both';
const top = Number(process.argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 30);
const keep = process.argv.find((a) => a.startsWith('--keep='))?.slice(7);
const PROBE = fileURLToPath(new URL('../bench/targets/timeline-probe.mjs', import.meta.url));
const target = (file: string) => fileURLToPath(new URL(`../bench/targets/${file}`, import.meta.url));

if (!COMPILED && which !== 'relay') throw new Error('no dist/: run `npm run build` first');

interface Node {
  readonly type: string;
  readonly name: string;
  readonly size: number;
  readonly holder: string;
}

/** Node id → kind, name, self size and first holder (`holder.edge`) of a snapshot. */
function readSnapshot(path: string): Map<number, Node> {
  const snapshot = JSON.parse(readFileSync(path, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const fields: string[] = meta.node_fields;
  const types: string[] = meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, idAt, sizeAt, edgeCountAt] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => fields.indexOf(f)) as number[];
  const edgeFields: string[] = meta.edge_fields;
  const edgeTypes: string[] = meta.edge_types[0];
  const edgeWidth = edgeFields.length;
  const [edgeTypeAt, edgeNameAt, edgeToAt] = ['type', 'name_or_index', 'to_node'].map((f) => edgeFields.indexOf(f)) as number[];
  const nodes: number[] = snapshot.nodes;
  const edges: number[] = snapshot.edges;
  const strings: string[] = snapshot.strings;
  const label = (i: number) => {
    const type = types[nodes[i + typeAt!]!]!;
    if (type.endsWith('string')) return type;
    const name = strings[nodes[i + nameAt!]!]!;
    return `${type === 'object' || type === 'closure' ? name.slice(0, 40) : `(${type}) ${name.slice(0, 30)}`}`;
  };
  const holder = new Map<number, string>();
  for (let i = 0, e = 0; i < nodes.length; i += width) {
    const end = e + nodes[i + edgeCountAt!]! * edgeWidth;
    for (; e < end; e += edgeWidth) {
      const to = edges[e + edgeToAt!]!;
      const edgeType = edgeTypes[edges[e + edgeTypeAt!]!];
      if (holder.has(to) || edgeType === 'weak') continue;
      const edge = edgeType === 'element' || edgeType === 'hidden' ? '[]' : `.${strings[edges[e + edgeNameAt!]!]}`;
      holder.set(to, `${label(i)}${edge}`);
    }
  }
  const byId = new Map<number, Node>();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt!]!]!;
    const name = type.endsWith('string') ? '' : strings[nodes[i + nameAt!]!]!.slice(0, 60);
    byId.set(nodes[i + idAt!]!, { type, name, size: nodes[i + sizeAt!]!, holder: holder.get(i) ?? '?' });
  }
  return byId;
}


const add = (map: Map<string, { bytes: number; count: number }>, key: string, bytes: number) => {
  const g = map.get(key) ?? { bytes: 0, count: 0 };
  g.bytes += bytes;
  g.count += 1;
  map.set(key, g);
};
const sortedRows = (map: Map<string, { bytes: number; count: number }>) => [...map].sort((a, b) => b[1].bytes - a[1].bytes);

const fake = await startFakeOpenAI({ script: SCRIPT });
const dir = keep ?? mkdtempSync(join(tmpdir(), 'retained-heap-'));
mkdirSync(dir, { recursive: true });
try {
  for (const name of which === 'both' ? ['switchyard', 'relay'] : [which]) {
    const child =
      name === 'switchyard'
        ? fork(target('upstream-gateway.mjs'), [], { execArgv: ['--expose-gc', '--import', PROBE], stdio: 'inherit' })
        : fork(target('upstream-relay.ts'), [], { execArgv: ['--expose-gc', '--import', 'tsx', '--import', PROBE], stdio: 'inherit' });
    child.send((name === 'switchyard' ? gatewayConfig(fake.url) : { upstreamUrl: fake.url }) as never);
    const [{ wsUrl }] = (await once(child, 'message')) as [{ wsUrl: string }];
    const client = createSwitchyardClient({ url: wsUrl });
    // Heap used at start, before any chat (the snapshot itself is not kept).
    const start = await askChild<{ heapSnapshot: string; heapUsedMb: number }>(child, { heapSnapshot: join(dir, `${name}-0.heapsnapshot`) }, 'heapSnapshot');
    if (keep === undefined) rmSync(start.heapSnapshot);
    await runAtConcurrency(warm, 16, (i) => readChat(client, i));
    const a = await askChild<{ heapSnapshot: string; heapUsedMb: number }>(child, { heapSnapshot: join(dir, `${name}-a.heapsnapshot`) }, 'heapSnapshot');
    await runAtConcurrency(chats, 16, (i) => readChat(client, warm + i));
    const b = await askChild<{ heapSnapshot: string; heapUsedMb: number }>(child, { heapSnapshot: join(dir, `${name}-b.heapsnapshot`) }, 'heapSnapshot');
    await client.dispose();
    await stopTarget(child);

    const before = readSnapshot(a.heapSnapshot);
    const after = readSnapshot(b.heapSnapshot);
    const kinds = new Map<string, { bytes: number; count: number }>();
    for (const n of after.values()) add(kinds, n.type, n.size);
    const total = [...after.values()].reduce((s, n) => s + n.size, 0);
    console.log(
      `\n${name}: heap used after a full GC: ${start.heapUsedMb.toFixed(1)} MB at start, ${a.heapUsedMb.toFixed(1)} MB after ${warm} chats, ${b.heapUsedMb.toFixed(1)} MB after ${warm + chats}` +
        ` (snapshot: ${(total / 2 ** 20).toFixed(1)} MB, ${after.size} objects)`,
    );
    console.log('  second snapshot by kind (MB, count):');
    for (const [kind, g] of sortedRows(kinds)) console.log(`  ${(g.bytes / 2 ** 20).toFixed(2).padStart(8)} ${String(g.count).padStart(8)}  ${kind}`);
    const grown = new Map<string, { bytes: number; count: number }>();
    const grownByKind = new Map<string, { bytes: number; count: number }>();
    let grownTotal = 0;
    for (const [id, n] of after) {
      if (before.has(id)) continue;
      grownTotal += n.size;
      add(grownByKind, n.type, n.size);
      add(grown, `${n.type} ${n.name || ''} ← ${n.holder}`, n.size);
    }
    const per = (g: { bytes: number; count: number }) => `${(g.bytes / chats).toFixed(1).padStart(8)} B ${(g.count / chats).toFixed(2).padStart(6)}`;
    console.log(`  new since the first snapshot: ${(grownTotal / 2 ** 20).toFixed(2)} MB, ${(grownTotal / chats).toFixed(0)} B per chat; by kind (B and objects per chat):`);
    for (const [kind, g] of sortedRows(grownByKind)) console.log(`  ${per(g)}  ${kind}`);
    console.log(`  by kind, name and first holder (top ${top}):`);
    for (const [key, g] of sortedRows(grown).slice(0, top)) console.log(`  ${per(g)}  ${key}`);
  }
} finally {
  await fake.close();
  if (keep === undefined) rmSync(dir, { recursive: true, force: true });
}
