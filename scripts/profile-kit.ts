/**
 * What the profile scripts share: a V8 CPU profile's self time by owner (the package, or
 * Switchyard's source directory, of each sampled frame), by coarse group (graphql-ws, ws, yoga and
 * envelop, ..., Switchyard's own code), and by function, and the printing of those in µs per chat.
 */
import { findSourceMap, type SourceMapping } from 'node:module';
import type { ChildProcess } from 'node:child_process';

export interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  readonly children?: number[];
}
export interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

/**
 * Who a frame's code belongs to: a package (`graphql-ws`, `@envelop/core`), a node internal
 * (`node:internal/streams/readable`), Switchyard's source directory (`src/chat`, whether run from
 * src/ or the compiled dist/), the garbage collector, native code (V8 builtins and C++ bindings,
 * which have no URL) or WebAssembly (undici's HTTP parser, llhttp, is the only one loaded here).
 */
export function ownerOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return '(garbage collector)';
  if (url === '') return `(native) ${fn}`;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url;
  if (url.startsWith('wasm://')) return '(wasm)';
  for (const root of ['/src/', '/dist/']) {
    const at = url.lastIndexOf(root);
    if (at !== -1) return `src/${url.slice(at + root.length).split('/')[0]}`;
  }
  return url.slice(url.lastIndexOf('/', url.lastIndexOf('/') - 1) + 1);
}

/** The coarse groups the upstream profile is told in, in print order; the first that matches an owner wins. */
export const GROUPS: ReadonlyArray<readonly [string, (owner: string) => boolean]> = [
  ['graphql-ws', (o) => o === 'graphql-ws'],
  ['ws', (o) => o === 'ws'],
  ['graphql-yoga / envelop / graphql-tools / whatwg-node', (o) => /^(graphql-yoga|@graphql-yoga\/|@envelop\/|@graphql-tools\/|@whatwg-node\/)/.test(o)],
  ['graphql-jit', (o) => o === 'graphql-jit'],
  ['graphql', (o) => o === 'graphql'],
  ['undici (with its llhttp wasm)', (o) => o === 'undici' || o === '(wasm)'],
  ['node internals (node:*)', (o) => o.startsWith('node:') && o !== 'node:inspector'],
  ['native (V8 builtins, C++ bindings)', (o) => o.startsWith('(native) ')],
  ['garbage collector', (o) => o === '(garbage collector)'],
  ['the profiler itself (node:inspector)', (o) => o.startsWith('(profiler) ') || o === 'node:inspector'],
  ['Switchyard src/ (the relay: the SSE parser)', (o) => o.startsWith('src/')],
  ['bench/ (the relay itself)', (o) => o.startsWith('bench/')],
  ['other packages', () => true],
];

export function groupOf(owner: string): string {
  return GROUPS.find(([, test]) => test(owner))![0];
}

const NO_CALLER = '(no JavaScript caller)';

export interface SelfTime {
  /** Sampled time outside `(idle)` and `(program)`, µs. */
  readonly busy: number;
  readonly idle: number;
  /** Native code with no JavaScript on the stack (libuv, the event loop, syscalls), µs. */
  readonly program: number;
  readonly owners: ReadonlyMap<string, number>;
  /** `name owner:line` → µs. */
  readonly functions: ReadonlyMap<string, number>;
  /**
   * Native self time (V8 builtins, C++ bindings: `writev`, `JSON.parse`, ...) by the owner of the
   * nearest JavaScript frame above it, `name ← owner`: who asked for it.
   */
  readonly nativeByCaller: ReadonlyMap<string, number>;
}

/**
 * tsx puts a module's code on one line, so a frame's line says nothing; with source maps on
 * (`node --enable-source-maps --import tsx ...`) the line is the original file's, with its name.
 */
export function sourceLine(frame: ProfileNode['callFrame']): string {
  const found = frame.url.startsWith('file:') ? findSourceMap(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber) : undefined;
  // An empty object when the position maps to nothing.
  const entry = found as SourceMapping | Record<string, never> | undefined;
  if (entry === undefined || entry.originalSource === undefined) return String(frame.lineNumber + 1);
  const file = entry.originalSource.slice(entry.originalSource.lastIndexOf('/') + 1);
  return `${file}:${entry.originalLine + 1}`;
}

export function selfTime(profile: Profile, line: (frame: ProfileNode['callFrame']) => string = sourceLine): SelfTime {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const callerOf = (id: number): string => {
    for (let at = parents.get(id); at !== undefined; at = parents.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.url !== '') return ownerOf(frame.url, frame.functionName);
    }
    return NO_CALLER;
  };
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  const nativeByCaller = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let program = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const us = profile.timeDeltas[i] ?? 0;
    if (frame.functionName === '(idle)') idle += us;
    if (frame.functionName === '(program)') program += us;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') return;
    busy += us;
    let owner = ownerOf(frame.url, frame.functionName);
    // The in-process inspector's work (its message dispatch) is the profile's cost, not the program's.
    if (owner.startsWith('(native) ') && callerOf(id) === 'node:inspector') owner = `(profiler) ${frame.functionName}`;
    owners.set(owner, (owners.get(owner) ?? 0) + us);
    const name = `${frame.functionName || '(anonymous)'} ${owner}:${line(frame)}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    if (owner.startsWith('(native) ')) {
      const called = `${frame.functionName || '(anonymous)'} ← ${callerOf(id)}`;
      nativeByCaller.set(called, (nativeByCaller.get(called) ?? 0) + us);
    }
  });
  return { busy, idle, program, owners, functions, nativeByCaller };
}

/** Self time by group (GROUPS order, every group present), µs. */
export function byGroup(owners: ReadonlyMap<string, number>): Map<string, number> {
  const groups = new Map<string, number>(GROUPS.map(([name]) => [name, 0]));
  for (const [owner, us] of owners) groups.set(groupOf(owner), groups.get(groupOf(owner))! + us);
  return groups;
}

/** Native self time by the group of its caller (see SelfTime.nativeByCaller), µs; only groups that called any. */
export function nativeByCallerGroup(nativeByCaller: ReadonlyMap<string, number>): Map<string, number> {
  const groups = new Map<string, number>();
  for (const [called, us] of nativeByCaller) {
    const caller = called.slice(called.lastIndexOf(' ← ') + 3);
    const group = caller === NO_CALLER ? NO_CALLER : groupOf(caller);
    groups.set(group, (groups.get(group) ?? 0) + us);
  }
  return groups;
}

const sorted = (map: ReadonlyMap<string, number>) => [...map].sort((a, b) => b[1] - a[1]);

/** A row: µs per chat and % of the busy time. */
export function shareRow(us: number, chats: number, busy: number): string {
  return `${(us / chats).toFixed(1).padStart(7)} µs ${((100 * us) / busy).toFixed(1).padStart(5)}%`;
}

export interface PrintOptions {
  readonly wallMs: number;
  readonly cpuUs: number;
  /** How many owners to print (most first). */
  readonly topOwners?: number;
  readonly topFunctions?: number;
  /** Owners whose own functions are printed too. */
  readonly listed?: readonly string[];
  readonly groups?: boolean;
}

/** Prints one profile's self time per chat: the totals, the groups, the owners, the hottest functions. */
export function printProfile(label: string, time: SelfTime, chats: number, options: PrintOptions): void {
  const { busy, idle, program, owners, functions } = time;
  const row = (us: number) => shareRow(us, chats, busy);
  const perChat = (us: number) => (us / chats).toFixed(0);
  console.log(
    `\n${label}: ${perChat(busy)} µs busy per chat (idle ${perChat(idle)}, program ${perChat(program)}; ` +
      `wall ${perChat(options.wallMs * 1000)}, process CPU ${perChat(options.cpuUs)})`,
  );
  if (options.groups) {
    console.log('  by group:');
    for (const [group, us] of byGroup(owners)) console.log(`  ${row(us)}  ${group}`);
  }
  for (const [owner, us] of sorted(owners).slice(0, options.topOwners ?? 22)) console.log(`  ${row(us)}  ${owner}`);
  console.log('  hottest functions:');
  for (const [name, us] of sorted(functions).slice(0, options.topFunctions ?? 15)) console.log(`  ${row(us)}  ${name}`);
  console.log('  native functions by caller:');
  for (const [name, us] of sorted(time.nativeByCaller).slice(0, options.topFunctions ?? 15)) console.log(`  ${row(us)}  ${name}`);
  for (const owner of options.listed ?? []) {
    console.log(`  functions of ${owner}:`);
    const own = sorted(functions).filter(([name]) => name.includes(` ${owner}:`));
    for (const [name, us] of own.slice(0, 20)) console.log(`  ${row(us)}  ${name}`);
  }
}

/** Sends a message to a forked child and resolves its first answer that carries `key`. */
export function askChild<T>(child: ChildProcess, message: unknown, key: string): Promise<T> {
  return new Promise<T>((resolve) => {
    const listener = (m: Record<string, unknown>) => {
      if (m && key in m) {
        child.off('message', listener);
        resolve(m as T);
      }
    };
    child.on('message', listener);
    child.send(message as never);
  });
}
