import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/default-config.js';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load-config.js';

function writeConfig(content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-config-'));
  const path = join(dir, 'config.json');
  writeFileSync(path, content);
  return path;
}

describe('configuration', () => {
  it('the embedded default is valid and has four simulated models with one arm each', () => {
    const config = loadConfig({});
    expect(config.models).toHaveLength(4);
    expect(config.models.every((m) => m.provider === 'simulated')).toBe(true);
    expect(config.arms.map((a) => a.model)).toEqual(config.models.map((m) => m.id));
    expect(config.server.port).toBe(4000);
    expect(config.redis.url).toBeUndefined();
  });

  it('applies PORT, REDIS_URL and LOG_LEVEL overrides', () => {
    const config = loadConfig({ PORT: '5001', REDIS_URL: 'redis://127.0.0.1:6390', LOG_LEVEL: 'warn' });
    expect(config.server.port).toBe(5001);
    expect(config.redis.url).toBe('redis://127.0.0.1:6390');
    expect(config.logLevel).toBe('warn');
  });

  it('names the environment variable that set a bad field, not only the file or the embedded default', () => {
    const bad = () => loadConfig({ PORT: '70000', LOG_LEVEL: 'loud' });
    expect(bad).toThrow(/^invalid configuration in the embedded default:\n/);
    expect(bad).toThrow(/\n {2}- server\.port \(set by PORT=70000\): Too big/);
    expect(bad).toThrow(/\n {2}- logLevel \(set by LOG_LEVEL=loud\): Invalid option/);
    const path = writeConfig(JSON.stringify({ ...defaultConfig, logLevel: 'loud' }));
    expect(() => loadConfig({ SWITCHYARD_CONFIG: path })).toThrow(/\n {2}- logLevel: Invalid option/);
  });

  it('names every bad field and the problem', () => {
    const bad = structuredClone(defaultConfig) as unknown as {
      models: Array<Record<string, unknown>>;
      arms: Array<Record<string, unknown>>;
    };
    bad.models[0]!.errorRate = 2;
    bad.arms[1]!.model = 'missing-model';
    let error: unknown;
    try {
      parseConfig(bad, 'test.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('test.json');
    expect(message).toMatch(/models\.0\.errorRate: .*1/);
    expect(message).toMatch(/arms\.1\.model: unknown model "missing-model"/);
  });

  it('bounds what one stored shadow answer may hold: 32 KiB by default, at least 1 KiB', () => {
    expect(parseConfig(defaultConfig).shadow.maxStoredAnswerBytes).toBe(32_768);
    expect(() => parseConfig({ ...defaultConfig, shadow: { maxStoredAnswerBytes: 100 } })).toThrow(/shadow\.maxStoredAnswerBytes: .*1024/);
    expect(() => parseConfig({ ...defaultConfig, shadow: { maxStoredAnswerBytes: 1.5 } })).toThrow(/shadow\.maxStoredAnswerBytes/);
  });

  it('rejects unknown fields, so typos do not pass silently', () => {
    expect(() => parseConfig({ ...defaultConfig, bandti: {} })).toThrow(/bandti/);
  });

  it('lists schema and cross-field problems together, and suggests the field an unknown one meant', () => {
    const bad = structuredClone(defaultConfig) as unknown as {
      models: Array<Record<string, unknown>>;
      arms: Array<Record<string, unknown>>;
      [key: string]: unknown;
    };
    bad.models[0]!.ttftMS = 5;
    bad.models[1]!.quality = 'high';
    bad.arms[1]!.model = 'ghost';
    bad.limits = { maxTokens: 100, defaultMaxTokens: 200 };
    bad.bandti = {};
    bad.shadow = { arm: 'nobody' };
    const message = (() => {
      try {
        parseConfig(bad, 'test.json');
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message.split('\n').slice(1).sort()).toEqual(
      [
        '  - models.0: unknown field "ttftMS" (did you mean "ttftMs"?)',
        '  - models.1.quality: Invalid input: expected number, received string',
        '  - arms.1.model: unknown model "ghost"',
        '  - limits.defaultMaxTokens: must not exceed limits.maxTokens',
        '  - (root): unknown field "bandti" (did you mean "bandit"?)',
        '  - shadow.arm: unknown arm "nobody"',
      ].sort(),
    );
  });

  it('suggests nothing for an unknown field far from every known one', () => {
    expect(() => parseConfig({ ...defaultConfig, colour: 'blue' })).toThrow(/\(root\): unknown field "colour"$/m);
  });

  it('reads a file named by SWITCHYARD_CONFIG and reports unreadable or non-JSON files', () => {
    const path = writeConfig(JSON.stringify({ ...defaultConfig, server: { port: 4100 } }));
    expect(loadConfig({ SWITCHYARD_CONFIG: path }).server.port).toBe(4100);
    expect(() => loadConfig({ SWITCHYARD_CONFIG: writeConfig('{ nope') })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ SWITCHYARD_CONFIG: '/does/not/exist.json' })).toThrow(/cannot read/);
  });

  it('a bad file stops the process with a message naming the field', () => {
    const path = writeConfig(JSON.stringify({ ...defaultConfig, arms: [{ id: 'a', model: 'ghost' }] }));
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, SWITCHYARD_CONFIG: path, PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/arms\.0\.model: unknown model "ghost"/);
  });
});
