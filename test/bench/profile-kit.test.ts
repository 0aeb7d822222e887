import { describe, expect, it } from 'vitest';
import { byGroup, groupOf, nativeByCallerGroup, ownerOf, selfTime, type Profile } from '../../scripts/profile-kit.js';

describe('profile kit: who owns a frame', () => {
  it('names the package, the node internal, the source directory, native code, wasm and the GC', () => {
    expect(ownerOf('file:///repo/node_modules/graphql-ws/dist/server.js', 'next')).toBe('graphql-ws');
    expect(ownerOf('file:///repo/node_modules/@envelop/core/cjs/orchestrator.js', 'x')).toBe('@envelop/core');
    // A package nested in another's node_modules is its own.
    expect(ownerOf('file:///repo/node_modules/graphql-yoga/node_modules/@graphql-tools/executor/cjs/a.js', 'x')).toBe('@graphql-tools/executor');
    expect(ownerOf('node:internal/streams/readable', 'read')).toBe('node:internal/streams/readable');
    expect(ownerOf('file:///repo/src/chat/chat-service.ts', 'stream')).toBe('src/chat');
    expect(ownerOf('file:///repo/dist/chat/chat-service.js', 'stream')).toBe('src/chat');
    expect(ownerOf('file:///repo/dist/app.js', 'buildApp')).toBe('src/app.js');
    expect(ownerOf('file:///repo/bench/bare-relay.ts', 'relay')).toBe('bench/bare-relay.ts');
    expect(ownerOf('', 'writev')).toBe('(native) writev');
    expect(ownerOf('wasm://wasm/0036b5b2', 'llhttp_execute')).toBe('(wasm)');
    expect(ownerOf('', '(garbage collector)')).toBe('(garbage collector)');
  });

  it('puts each owner in one coarse group', () => {
    expect(groupOf('graphql-ws')).toBe('graphql-ws');
    expect(groupOf('ws')).toBe('ws');
    expect(groupOf('@graphql-tools/executor')).toBe('graphql-yoga / envelop / graphql-tools / whatwg-node');
    expect(groupOf('@whatwg-node/promise-helpers')).toBe('graphql-yoga / envelop / graphql-tools / whatwg-node');
    expect(groupOf('graphql-jit')).toBe('graphql-jit');
    expect(groupOf('graphql')).toBe('graphql');
    expect(groupOf('(wasm)')).toBe('undici (with its llhttp wasm)');
    expect(groupOf('node:net')).toBe('node internals (node:*)');
    expect(groupOf('(native) writev')).toBe('native (V8 builtins, C++ bindings)');
    expect(groupOf('src/models')).toBe('Switchyard src/ (the relay: the SSE parser)');
    expect(groupOf('bench/bare-relay.ts')).toBe('bench/ (the relay itself)');
    expect(groupOf('lru-cache')).toBe('other packages');
  });
});

describe('profile kit: self time', () => {
  // (root) → send (ws) → writev (native); (root) → next (graphql-ws); (idle); (program).
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9, columnNumber: 0 });
  const profile: Profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 5, 6, 7] },
      { id: 2, callFrame: frame('send', 'file:///r/node_modules/ws/lib/sender.js'), children: [3] },
      { id: 3, callFrame: frame('writev', '') },
      { id: 4, callFrame: frame('next', 'file:///r/node_modules/graphql-ws/dist/server.js') },
      { id: 5, callFrame: frame('(idle)', '') },
      { id: 6, callFrame: frame('(program)', '') },
      { id: 7, callFrame: frame('(garbage collector)', '') },
    ],
    samples: [2, 3, 3, 4, 5, 6, 7],
    timeDeltas: [10, 20, 30, 40, 100, 7, 5],
  };

  it('sums each sample by owner and function, idle and program apart', () => {
    const time = selfTime(profile, (f) => String(f.lineNumber + 1));
    expect(time).toMatchObject({ busy: 105, idle: 100, program: 7 });
    expect(Object.fromEntries(time.owners)).toEqual({ ws: 10, '(native) writev': 50, 'graphql-ws': 40, '(garbage collector)': 5 });
    expect(time.functions.get('send ws:10')).toBe(10);
    expect(time.functions.get('writev (native) writev:10')).toBe(50);
  });

  it('charges native time to its nearest JavaScript caller and groups it', () => {
    const time = selfTime(profile, () => '');
    expect(Object.fromEntries(time.nativeByCaller)).toEqual({ 'writev ← ws': 50 });
    expect(Object.fromEntries(nativeByCallerGroup(time.nativeByCaller))).toEqual({ ws: 50 });
    const groups = byGroup(time.owners);
    expect(groups.get('ws')).toBe(10);
    expect(groups.get('native (V8 builtins, C++ bindings)')).toBe(50);
    expect(groups.get('garbage collector')).toBe(5);
    expect(groups.get('graphql-jit')).toBe(0);
  });
});
