import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { defaultConfig } from '../../src/config/default-config.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';

const run = promisify(execFile);

/**
 * Every code block of the README runs as printed. A fence's info string says how:
 * - `sh` and `js`: run (bash, node) against a gateway on the embedded default configuration, its
 *   address put where the snippet says localhost:4000;
 * - `sh trusted` and `js trusted`: the same against a gateway configured by the `json trusted` block;
 * - `json` (and `json trusted`): a configuration (or part of one) that must validate;
 * - `sh commands`: npm commands of this repo, each of which must exist;
 * - `graphql`: validated against the schema by readme-graphql.test.ts;
 * - no language: text (the layout).
 * Output that shows a GraphQL error code is only fine when the snippet names that code.
 */

interface Snippet {
  readonly lang: string;
  readonly mode: string;
  readonly code: string;
  readonly line: number;
}

const readme = readFileSync('README.md', 'utf8');
const snippets: Snippet[] = [...readme.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => {
  const [lang = '', mode = ''] = m[1]!.trim().split(/\s+/);
  return { lang, mode, code: m[2]!, line: readme.slice(0, m.index).split('\n').length };
});
const title = (s: Snippet) => `line ${s.line}: ${s.code.split('\n').find((l) => l.trim() && !l.startsWith('#'))?.slice(0, 70)}`;
const runnable = (mode: string) => snippets.filter((s) => (s.lang === 'sh' || s.lang === 'js') && s.mode === mode);
const scriptNames = new Set(Object.keys((JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: object }).scripts));
// Inside the repo, so that a snippet's bare imports resolve from its node_modules.
const snippetDir = join('node_modules', '.cache', 'readme-snippets');

async function startGateway(configPatch: Record<string, unknown>): Promise<{ app: App; port: number }> {
  const config = parseConfig({ ...defaultConfig, ...configPatch, logLevel: 'silent' });
  const app = buildApp({ config, logger: createLogger('silent'), env: {} });
  const { port } = await app.start(0, '127.0.0.1');
  return { app, port };
}

async function runSnippet(snippet: Snippet, port: number): Promise<{ stdout: string; stderr: string }> {
  const code = snippet.code.replaceAll('localhost:4000', `127.0.0.1:${port}`);
  const options = { timeout: 60_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } };
  if (snippet.lang === 'sh') return run('bash', ['-euo', 'pipefail', '-c', code], options);
  const file = join(snippetDir, `line-${snippet.line}.mjs`);
  writeFileSync(file, code);
  return run(process.execPath, [file], options);
}

function expectOnlyNamedErrorCodes(snippet: Snippet, output: string): void {
  const codes = [...output.matchAll(/"code":"([A-Z_]+)"/g)].map((m) => m[1]!);
  expect(codes.filter((code) => !snippet.code.includes(code)), output).toEqual([]);
}

describe('README snippets', () => {
  it('has only snippets of a known kind', () => {
    const known = new Set(['sh', 'sh commands', 'sh trusted', 'js', 'js trusted', 'json', 'json trusted', 'graphql', '']);
    expect(snippets.length).toBeGreaterThan(15);
    expect(snippets.filter((s) => !known.has(`${s.lang}${s.mode ? ` ${s.mode}` : ''}`)).map(title)).toEqual([]);
  });

  it.each(snippets.filter((s) => s.lang === 'json').map((s) => [title(s), s] as const))('%s validates', (_t, snippet) => {
    expect(() => parseConfig({ ...defaultConfig, ...(JSON.parse(snippet.code) as object) })).not.toThrow();
  });

  it.each(snippets.filter((s) => s.mode === 'commands').map((s) => [title(s), s] as const))(
    '%s names commands that exist',
    (_t, snippet) => {
      const commands = snippet.code
        .split('\n')
        .map((line) => line.replace(/#.*/, '').trim())
        .filter(Boolean);
      for (const command of commands) {
        const [npm, verb, arg] = command.split(/\s+/);
        expect(npm, command).toBe('npm');
        if (verb === 'run') expect(scriptNames.has(arg!), command).toBe(true);
        else if (verb === 'install' && arg) expect(existsSync(arg.replace('../switchyard/', '')), command).toBe(true);
        else expect(['install', 'ci', 'start', 'test'], command).toContain(verb);
      }
    },
  );

  describe('run against a gateway', () => {
    let gateway: { app: App; port: number };
    let trusted: { app: App; port: number };
    beforeAll(async () => {
      mkdirSync(snippetDir, { recursive: true });
      const trustedConfig = snippets.find((s) => s.lang === 'json' && s.mode === 'trusted');
      gateway = await startGateway({});
      trusted = await startGateway(JSON.parse(trustedConfig!.code) as Record<string, unknown>);
    });
    afterAll(async () => {
      await gateway?.app.stop();
      await trusted?.app.stop();
      rmSync(snippetDir, { recursive: true, force: true });
    });

    // Concurrently: the snippets mostly wait on the gateway's simulated models, and use distinct prompts.
    it.concurrent.each(runnable('').map((s) => [title(s), s] as const))('%s', async (_t, snippet) => {
      const { stdout, stderr } = await runSnippet(snippet, gateway.port);
      expectOnlyNamedErrorCodes(snippet, stdout + stderr);
      if (snippet.lang === 'js') expect(stderr).toBe('');
      if (snippet.code.includes('submitFeedback')) expect(stdout).toContain('"learned":true');
    });

    it.concurrent.each(runnable('trusted').map((s) => [title(s), s] as const))('%s (trusted documents)', async (_t, snippet) => {
      const { stdout, stderr } = await runSnippet(snippet, trusted.port);
      expectOnlyNamedErrorCodes(snippet, stdout + stderr);
      if (snippet.lang === 'js') expect(stderr).toBe('');
      expect(stdout).not.toBe('');
    });
  });
});
