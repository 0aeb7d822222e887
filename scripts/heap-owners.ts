/**
 * Whose code and data a heap snapshot holds, by package (docs/performance.md, "Tenth pass:
 * start-up library heap"). Every object goes to its nearest dominator that belongs to a script:
 * the script itself (its source), a function's shared info (bytecode, scope info, ...) or a
 * closure, each owned by the package of its script (`zod`, `@graphql-tools/utils`, `node:*`), or by Switchyard's dist/ or src/ directory.
 * What more than one owner reaches (shapes, module records, shared strings) stays `(shared)`.
 * Backing stores of ArrayBuffers (Buffers, hdr-histogram-js counts) are off the JS heap, which is
 * what a mark-compact marks, and are left out. Prints MB, objects and MB of strings per owner.
 *
 *   npx tsx scripts/heap-owners.ts <file.heapsnapshot> [--depth=1] [--top=40]
 *
 * `--depth=2` and more split a package by its folders (`zod/v4/locales`). Snapshots: e.g.
 * `npx tsx scripts/retained-heap.ts 5000 300 switchyard --keep=/tmp/heap` (after a full GC at
 * start, after the warm-up, at the end).
 */
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (file === undefined || file.startsWith('--')) throw new Error('usage: heap-owners.ts <file.heapsnapshot> [--depth=1] [--top=40]');
const option = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const depth = option('depth', 1);
const top = option('top', 40);

const snapshot = JSON.parse(readFileSync(file, 'utf8'));
const meta = snapshot.snapshot.meta;
const nodeTypes: string[] = meta.node_types[0];
const edgeTypes: string[] = meta.edge_types[0];
const W: number = meta.node_fields.length;
const EW: number = meta.edge_fields.length;
const [typeAt, nameAt, sizeAt, edgeCountAt] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f)) as [number, number, number, number];
const [edgeTypeAt, edgeNameAt, edgeToAt] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number, number];
const nodes: number[] = snapshot.nodes;
const edges: number[] = snapshot.edges;
const strings: string[] = snapshot.strings;
const n = nodes.length / W;
const type = (i: number) => nodeTypes[nodes[i * W + typeAt]!]!;
const name = (i: number) => strings[nodes[i * W + nameAt]!]!;
const size = (i: number) => nodes[i * W + sizeAt]!;

const firstEdge = new Uint32Array(n + 1);
for (let i = 0, e = 0; i < n; i++) {
  firstEdge[i] = e;
  e += nodes[i * W + edgeCountAt]! * EW;
  firstEdge[i + 1] = e;
}
// Weak and shortcut edges do not keep anything alive.
const skipped = new Set([edgeTypes.indexOf('weak'), edgeTypes.indexOf('shortcut')]);
const strong = (k: number) => !skipped.has(edges[k + edgeTypeAt]!);
const target = (k: number) => edges[k + edgeToAt]! / W;

// Predecessors, then dominators (Cooper, Harvey and Kennedy's iteration over a reverse postorder from the root).
const predStart = new Uint32Array(n + 1);
for (let k = 0; k < edges.length; k += EW) if (strong(k)) predStart[target(k) + 1]!++;
for (let i = 0; i < n; i++) predStart[i + 1]! += predStart[i]!;
const preds = new Uint32Array(predStart[n]!);
const fill = predStart.slice();
for (let i = 0; i < n; i++) for (let k = firstEdge[i]!; k < firstEdge[i + 1]!; k += EW) if (strong(k)) preds[fill[target(k)]!++] = i;
const post = new Int32Array(n).fill(-1);
const order: number[] = [];
{
  const seen = new Uint8Array(n);
  const stack = [0];
  const next = [firstEdge[0]!];
  seen[0] = 1;
  while (stack.length > 0) {
    const v = stack[stack.length - 1]!;
    let k = next[next.length - 1]!;
    for (; k < firstEdge[v + 1]!; k += EW) {
      const w = target(k);
      if (strong(k) && !seen[w]) break;
    }
    if (k < firstEdge[v + 1]!) {
      const w = target(k);
      seen[w] = 1;
      next[next.length - 1] = k + EW;
      stack.push(w);
      next.push(firstEdge[w]!);
    } else {
      stack.pop();
      next.pop();
      post[v] = order.length;
      order.push(v);
    }
  }
}
const idom = new Int32Array(n).fill(-1);
idom[0] = 0;
const intersect = (a: number, b: number) => {
  while (a !== b) {
    while (post[a]! < post[b]!) a = idom[a]!;
    while (post[b]! < post[a]!) b = idom[b]!;
  }
  return a;
};
for (let changed = true; changed; ) {
  changed = false;
  for (let j = order.length - 2; j >= 0; j--) {
    const v = order[j]!;
    let d = -1;
    for (let p = predStart[v]!; p < predStart[v + 1]!; p++) {
      const u = preds[p]!;
      if (idom[u] !== -1) d = d === -1 ? u : intersect(u, d);
    }
    if (d !== idom[v]) {
      idom[v] = d;
      changed = true;
    }
  }
}

/** The node a named internal edge of node i goes to, or -1. */
function edgeTo(i: number, edgeName: string): number {
  for (let k = firstEdge[i]!; k < firstEdge[i + 1]!; k += EW) {
    const kind = edgeTypes[edges[k + edgeTypeAt]!];
    if (kind !== 'element' && kind !== 'hidden' && strings[edges[k + edgeNameAt]!] === edgeName) return target(k);
  }
  return -1;
}
function ownerOfUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const parts = url.slice(modules + '/node_modules/'.length).split('/');
    return parts.slice(0, (parts[0]!.startsWith('@') ? 2 : 1) + depth - 1).join('/');
  }
  if (url.startsWith('node:')) return depth > 1 ? url : 'node:*';
  for (const root of ['/dist/', '/src/', '/bench/', '/scripts/']) {
    const at = url.lastIndexOf(root);
    if (at !== -1) return `${root.slice(1)}${url.slice(at + root.length).split('/').slice(0, depth).join('/')}`;
  }
  return url === '' ? '(scripts without a name)' : url.slice(0, 60);
}

// Owners of scripts (a `code` node with a source), of functions' shared infos and of closures.
const owner: Array<string | undefined> = new Array(n);
for (let i = 0; i < n; i++) if (type(i) === 'code' && edgeTo(i, 'source') !== -1) owner[i] = ownerOfUrl(name(i));
for (let i = 0; i < n; i++) {
  if (type(i) !== 'code' || owner[i] !== undefined) continue;
  const script = edgeTo(i, 'script_or_debug_info');
  if (script !== -1) owner[i] = owner[script];
}
for (let i = 0; i < n; i++) {
  if (type(i) !== 'closure') continue;
  const shared = edgeTo(i, 'shared');
  if (shared !== -1) owner[i] ??= owner[shared];
}
const resolved: Array<string | undefined> = new Array(n);
function ownerOf(v: number): string {
  const path: number[] = [];
  let x = v;
  while (resolved[x] === undefined && owner[x] === undefined && x !== 0) {
    path.push(x);
    x = idom[x]!;
  }
  const found = resolved[x] ?? owner[x] ?? '(shared)';
  for (const p of path) resolved[p] = found;
  return (resolved[x] = found);
}

const NATIVE = nodeTypes.indexOf('native');
const rows = new Map<string, { bytes: number; objects: number; stringBytes: number }>();
let total = 0;
let objects = 0;
let offHeap = 0;
for (let i = 0; i < n; i++) {
  if (idom[i] === -1) continue;
  if (nodes[i * W + typeAt] === NATIVE) {
    offHeap += size(i);
    continue;
  }
  const row = rows.get(ownerOf(i)) ?? { bytes: 0, objects: 0, stringBytes: 0 };
  row.bytes += size(i);
  row.objects += 1;
  if (type(i).endsWith('string')) row.stringBytes += size(i);
  rows.set(ownerOf(i), row);
  total += size(i);
  objects += 1;
}
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(3).padStart(8);
console.log(`${file}: ${mb(total).trim()} MB in ${objects} objects reachable on the JS heap (off it, backing stores: ${mb(offHeap).trim()} MB)`);
console.log('      MB  objects  strings MB  owner');
for (const [who, row] of [...rows].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) {
  console.log(`${mb(row.bytes)} ${String(row.objects).padStart(8)} ${mb(row.stringBytes)}     ${who}`);
}
