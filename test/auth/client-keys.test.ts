import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isObjectType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createKeyRing } from '../../src/auth/client-keys.js';
import { knownOperations, requireScope } from '../../src/auth/scopes.js';
import { parseConfig } from '../../src/config/load-config.js';
import { schema } from '../../src/graphql/schema.js';
import { createLogger } from '../../src/logger.js';
import { isLoopback, requireSafeBinding } from '../../src/server/binding.js';
import { testConfigInput } from '../helpers/gateway.js';

const silent = createLogger('silent');
const KEY = 'sk-unit-0123456789abcdef';

describe('the key ring', () => {
  const ring = (auth: Record<string, unknown>, env: Record<string, string> = {}, server: Record<string, unknown> = {}) =>
    createKeyRing(parseConfig(testConfigInput({ auth, server })), env, silent);

  it('knows keys by environment variable or by SHA-256, with their scopes', () => {
    const keys = ring(
      {
        keys: [
          { id: 'by-env', env: 'K1', scopes: ['chat'] },
          { id: 'by-hash', sha256: createHash('sha256').update('sk-hashed-fedcba9876543210').digest('hex') },
        ],
      },
      { K1: KEY },
    );
    expect(keys.required).toBe(true);
    expect(keys.authenticate(KEY)).toMatchObject({ keyId: 'by-env', scopes: new Set(['chat']) });
    expect(keys.authenticate('sk-hashed-fedcba9876543210')).toMatchObject({ keyId: 'by-hash', scopes: new Set(['chat', 'feedback', 'read']) });
    expect(() => keys.authenticate(undefined)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
    expect(() => keys.authenticate(`${KEY}x`)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('refuses to start with an unset or guessable key, and never says the key', () => {
    expect(() => ring({ keys: [{ id: 'k', env: 'MISSING' }] })).toThrow(/MISSING, which is not set/);
    let message = '';
    try {
      ring({ keys: [{ id: 'k', env: 'SHORT' }] }, { SHORT: 'abc123' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/fewer than 16 characters/);
    expect(message).not.toContain('abc123');
    expect(() => parseConfig(testConfigInput({ auth: { keys: [{ id: 'k' }] } }))).toThrow(/exactly one of env or sha256/);
    expect(() => parseConfig(testConfigInput({ auth: { keys: [{ id: 'anonymous', env: 'A' }] } }))).toThrow(/anonymous/);
  });

  it('without client keys serves anyone anonymously; the legacy admin token is an admin key', () => {
    const open = ring({});
    expect(open.required).toBe(false);
    // SDKs always send some bearer: without keys it stands for an anonymous caller.
    expect(open.authenticate('sk-anything')).toMatchObject({ keyId: null });
    // No admin key at all: admin stays open, as before keys existed.
    expect(open.authenticate(undefined).scopes.has('admin')).toBe(true);

    const legacy = ring({}, { ADMIN: 'admin-token-7f3a9c' }, { adminTokenEnv: 'ADMIN' });
    expect(legacy.required).toBe(false);
    expect(legacy.authenticate('admin-token-7f3a9c')).toMatchObject({ keyId: 'admin' });
    expect(legacy.authenticate(undefined)).toMatchObject({ keyId: null, scopes: new Set(['chat', 'feedback', 'read', 'pin']) });
  });
});

describe('the scope table', () => {
  it('lists every root field of the schema, so none is left to the admin-only default by accident', () => {
    const coordinates = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]
      .filter(isObjectType)
      .flatMap((type) => Object.keys(type.getFields()).map((field) => `${type.name}.${field}`));
    expect(coordinates.filter((c) => !knownOperations().includes(c))).toEqual([]);
  });

  it('lets admin do everything and closes unknown operations to everyone else', () => {
    const principal = (scopes: string[]) => ({ keyId: 'k', client: 'k', scopes: new Set(scopes) as never, limits: {} });
    expect(() => requireScope(principal(['admin']), 'Mutation.somethingNew')).not.toThrow();
    expect(() => requireScope(principal(['chat', 'feedback', 'read']), 'Mutation.somethingNew')).toThrow(/admin/);
    expect(() => requireScope(principal(['chat']), 'Query.__typename')).not.toThrow();
  });
});

describe('secure by default', () => {
  it('listens on loopback unless told otherwise', () => {
    expect(parseConfig(testConfigInput()).server.host).toBe('127.0.0.1');
    expect(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.4', 'example.com', undefined].some(isLoopback)).toBe(false);
  });

  it('refuses another interface without keys or allowUnauthenticated', () => {
    expect(() => requireSafeBinding('0.0.0.0', { keysRequired: false, allowUnauthenticated: false })).toThrow(/auth\.keys/);
    expect(() => requireSafeBinding('0.0.0.0', { keysRequired: true, allowUnauthenticated: false })).not.toThrow();
    expect(() => requireSafeBinding('0.0.0.0', { keysRequired: false, allowUnauthenticated: true })).not.toThrow();
  });

  it('stops the process at start-up with a clear message', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-binding-'));
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({ ...testConfigInput({ server: { host: '0.0.0.0' } }), logLevel: 'warn' }));
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, SWITCHYARD_CONFIG: path, PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^switchyard: refusing to listen on 0\.0\.0\.0 without client keys/m);
  });
});
