/**
 * What a chat waiting for its first token holds, object by object: the memory bench's server
 * (`bench/targets`, the compiled build unless `bare` or `tsx` is given) takes a heap snapshot after
 * warm-up subscriptions and another after 1,000 more waiting ones; the objects the second has and
 * the first has not (V8 keeps node ids across snapshots of one process) are summed by kind and
 * name, and for closures by where their function is defined. Bytes per subscription.
 *
 *   npm run build && npx tsx scripts/waiting-heap-diff.ts [compiled|tsx|bare] [--top=40] [--strings] [--held] [--warm-up=50]
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChatDocument } from '../src/client/generated/graphql.js';
import { createSwitchyardClient } from '../src/client/switchyard-client.js';

const SUBSCRIPTIONS = 1_000;
/** Subscriptions before the first snapshot, so that one-time costs (compiled code, hidden classes) fall outside; `--warm-up=0` counts them as the bench does. */
const WARM_UP = Number(process.argv.find((arg) => arg.startsWith('--warm-up='))?.slice(10) ?? 50);
const kind = process.argv.find((arg) => ['compiled', 'tsx', 'bare'].includes(arg)) ?? 'compiled';
const showStrings = process.argv.includes('--strings');
/** Every node also says what holds it (its first retainer and the edge's name). */
const showHolders = showStrings || process.argv.includes('--held');
const top = Number(process.argv.find((arg) => arg.startsWith('--top='))?.slice(6) ?? 40);

const target = (file: string) => fileURLToPath(new URL(`../bench/targets/${file}`, import.meta.url));
const child =
  kind === 'compiled'
    ? fork(target('waiting-compiled.mjs'), [], { execArgv: ['--expose-gc'], stdio: 'inherit' })
    : fork(target('waiting-server.ts'), [kind === 'bare' ? 'bare' : 'switchyard'], {
        execArgv: ['--expose-gc', '--import', 'tsx'],
        stdio: 'inherit',
      });

interface Answer {
  readonly started: number;
  readonly snapshot?: string;
}

function ask(message: string): Promise<Answer> {
  const answer = once(child, 'message') as Promise<[Answer]>;
  child.send(message);
  return answer.then(([a]) => a);
}

async function subscribe(client: ReturnType<typeof createSwitchyardClient>, count: number, from: number) {
  const before = (await ask('measure')).started;
  const subscriptions = Array.from({ length: count }, (_, i) =>
    client.subscribe(ChatDocument, {
      input: { messages: [{ role: 'USER' as const, content: `waiting question ${from + i}` }], cache: false },
    }),
  );
  for (const s of subscriptions) void s.next().catch(() => undefined);
  while ((await ask('measure')).started - before < count) await new Promise((resolve) => setTimeout(resolve, 100));
  await new Promise((resolve) => setTimeout(resolve, 500));
  return subscriptions;
}

interface Group {
  bytes: number;
  count: number;
}

/** A string's shape, so that the per-chat ones group: ids, hex and digits replaced. */
function shapeOf(text: string): string {
  return text
    .slice(0, 60)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/[0-9a-f]{16,}/g, '<hex>')
    .replace(/[A-Za-z0-9_-]{20,}/g, '<b64>')
    .replace(/[0-9]+/g, '9');
}

/** Node ids → [kind, name, self size] of a snapshot, with closures named by their script and line. */
function readSnapshot(path: string): Map<number, [string, string, number]> {
  const snapshot = JSON.parse(readFileSync(path, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const fields: string[] = meta.node_fields;
  const types: string[] = meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, idAt, sizeAt, edgeCountAt] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const edgeFields: string[] = meta.edge_fields;
  const edgeTypes: string[] = meta.edge_types[0];
  const edgeWidth = edgeFields.length;
  const [edgeTypeAt, edgeNameAt, edgeToAt] = ['type', 'name_or_index', 'to_node'].map((f) => edgeFields.indexOf(f)) as [number, number, number];
  const nodes: number[] = snapshot.nodes;
  const edges: number[] = snapshot.edges;
  const strings: string[] = snapshot.strings;
  const firstEdge = new Map<number, number>();
  for (let i = 0, e = 0; i < nodes.length; i += width) {
    firstEdge.set(i, e);
    e += nodes[i + edgeCountAt]! * edgeWidth;
  }
  /** The node a named edge of `node` points to. */
  const follow = (node: number, name: string): number | undefined => {
    const from = firstEdge.get(node)!;
    for (let e = from; e < from + nodes[node + edgeCountAt]! * edgeWidth; e += edgeWidth) {
      const type = edgeTypes[edges[e + edgeTypeAt]!];
      if (type !== 'element' && type !== 'hidden' && strings[edges[e + edgeNameAt]!] === name) return edges[e + edgeToAt];
    }
    return undefined;
  };
  const scriptNames = new Map<number, string>();
  const scriptOf = (closure: number): string => {
    const shared = follow(closure, 'shared');
    if (shared === undefined) return '?';
    const script = follow(shared, 'script') ?? follow(shared, 'script_or_debug_info');
    if (script === undefined) return '?';
    let name = scriptNames.get(script);
    if (name === undefined) {
      const source = follow(script, 'name');
      name = source === undefined ? '?' : strings[nodes[source + nameAt]!]!.replace(/^.*\/(node_modules|dist|src|bench)\//, '$1/');
      scriptNames.set(script, name);
    }
    return name;
  };
  const lines = new Map<number, string>();
  const locationFields: string[] = meta.location_fields;
  const locations: number[] = snapshot.locations ?? [];
  for (let i = 0; i < locations.length; i += locationFields.length) lines.set(locations[i]!, String(locations[i + 2]! + 1));
  // With --strings, each string also says what holds it (its first retainer and the edge's name).
  const heldBy = new Map<number, string>();
  if (showHolders) {
    for (let i = 0, e = 0; i < nodes.length; i += width) {
      const end = e + nodes[i + edgeCountAt]! * edgeWidth;
      for (; e < end; e += edgeWidth) {
        const to = edges[e + edgeToAt]!;
        if (heldBy.has(to) || (!showHolders && !types[nodes[to + typeAt]!]!.endsWith('string'))) continue;
        const edgeType = edgeTypes[edges[e + edgeTypeAt]!];
        const edge = edgeType === 'element' || edgeType === 'hidden' ? `[${edges[e + edgeNameAt]}]` : `.${strings[edges[e + edgeNameAt]!]}`;
        const holder = types[nodes[i + typeAt]!]!;
        heldBy.set(to, `${holder === 'object' || holder === 'closure' ? strings[nodes[i + nameAt]!]!.slice(0, 30) : holder}${edge}`);
      }
    }
  }
  const byId = new Map<number, [string, string, number]>();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    // Strings by their text with --strings (which ones a chat holds), else all in one row.
    let name = type.endsWith('string') && !showStrings ? '' : strings[nodes[i + nameAt]!]!;
    if (type.endsWith('string') && showStrings) name = `${shapeOf(name)}  ← ${heldBy.get(i) ?? '?'}`;
    if (type === 'closure') name = `${name || '(anonymous)'} @${scriptOf(i)}:${lines.get(i) ?? '?'}`;
    if (showHolders && !type.endsWith('string')) name = `${name.slice(0, 60)}  ← ${heldBy.get(i) ?? '?'}`;
    byId.set(nodes[i + idAt]!, [type, name.slice(0, 100), nodes[i + sizeAt]!]);
  }
  return byId;
}

const dir = mkdtempSync(join(tmpdir(), 'waiting-heap-'));
try {
  const [{ wsUrl }] = (await once(child, 'message')) as [{ wsUrl: string }];
  const client = createSwitchyardClient({ url: wsUrl, lazy: false });
  await client.ws.iterate({ query: '{ __typename }' }).next();
  const warm = WARM_UP > 0 ? await subscribe(client, WARM_UP, 0) : [];
  const first = (await ask(`snapshot ${join(dir, 'before.heapsnapshot')}`)).snapshot!;
  const waiting = await subscribe(client, SUBSCRIPTIONS, WARM_UP);
  const second = (await ask(`snapshot ${join(dir, 'after.heapsnapshot')}`)).snapshot!;
  for (const s of [...warm, ...waiting]) void s.return?.();
  await client.dispose();
  child.kill();

  const before = readSnapshot(first);
  const after = readSnapshot(second);
  const byKind = new Map<string, Group>();
  const byName = new Map<string, Group>();
  let total = 0;
  for (const [id, [type, name, size]] of after) {
    if (before.has(id)) continue;
    total += size;
    for (const [map, key] of [
      [byKind, type],
      [byName, `${type} ${name}`],
    ] as const) {
      const group = map.get(key) ?? { bytes: 0, count: 0 };
      group.bytes += size;
      group.count += 1;
      map.set(key, group);
    }
  }
  const per = (g: Group) => `${(g.bytes / SUBSCRIPTIONS).toFixed(0).padStart(6)} B  ${(g.count / SUBSCRIPTIONS).toFixed(2).padStart(6)}`;
  console.log(`${kind}: new objects per waiting subscription (of ${SUBSCRIPTIONS}): ${(total / SUBSCRIPTIONS).toFixed(0)} B`);
  console.log('\nby kind:      bytes   count');
  for (const [key, g] of [...byKind].sort((a, b) => b[1].bytes - a[1].bytes)) console.log(`${per(g)}  ${key}`);
  console.log(`\nby kind and name (top ${top}; closures by script id:line):`);
  for (const [key, g] of [...byName].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) console.log(`${per(g)}  ${key}`);
} finally {
  child.kill();
  rmSync(dir, { recursive: true, force: true });
}
