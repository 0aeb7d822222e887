import { describe, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.js';
import { createInterner } from '../../src/interner.js';
import { createRequestSessionOf, isConnectionSession, SESSION_HEADER } from '../../src/server/request-session.js';

const anonymous = { keyId: null } as unknown as Principal;

describe('createInterner', () => {
  it('answers the text it was given, and holds each distinct text once', () => {
    const interner = createInterner(8);
    for (let i = 0; i < 100; i++) expect(interner.intern(`context/${i % 3}`)).toBe(`context/${i % 3}`);
    expect(interner.size()).toBe(3);
  });

  it('never holds more than max values: a table that is full starts over', () => {
    const interner = createInterner(16);
    for (let i = 0; i < 1_000; i++) {
      expect(interner.intern(`session:${i}`)).toBe(`session:${i}`);
      expect(interner.size()).toBeLessThanOrEqual(16);
    }
    // After starting over it still answers every text, the new ones and the old ones.
    expect(interner.intern('session:3')).toBe('session:3');
    expect(interner.intern('session:999')).toBe('session:999');
  });
});

describe('createRequestSessionOf', () => {
  it('one session per WebSocket connection, the same for each of its requests', () => {
    const sessionOf = createRequestSessionOf();
    const [a, b] = [{}, {}];
    const first = sessionOf({ socket: a }, anonymous)!;
    expect(isConnectionSession(first)).toBe(true);
    expect(sessionOf({ socket: a }, anonymous)).toBe(first);
    expect(sessionOf({ socket: b }, anonymous)).not.toBe(first);
  });

  it('a named session (connection parameter or header) before the key, the key before the connection', () => {
    const sessionOf = createRequestSessionOf();
    const named = 'tab-0123456789abcdef';
    expect(sessionOf({ connectionParams: { session: named }, socket: {} }, anonymous)).toBe(`session:${named}`);
    const request = new Request('http://localhost/graphql', { headers: { [SESSION_HEADER]: named } });
    expect(sessionOf({ request }, { keyId: 'k1' } as unknown as Principal)).toBe(`session:${named}`);
    expect(sessionOf({ socket: {} }, { keyId: 'k1' } as unknown as Principal)).toBe('key:k1');
    expect(sessionOf({ request: new Request('http://localhost/graphql') }, anonymous)).toBeNull();
    // Too short to be a session: not one.
    expect(sessionOf({ connectionParams: { session: 'short' }, socket: {} }, { keyId: 'k2' } as unknown as Principal)).toBe('key:k2');
  });
});
