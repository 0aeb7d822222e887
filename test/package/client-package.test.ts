import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';

const run = promisify(execFile);
const packageDir = resolve('packages/client');
const tsc = resolve('node_modules/typescript/bin/tsc');

/**
 * @switchyard/client as another project uses it: `npm install <path to packages/client>` in a scratch
 * project outside the repo (no network: the package links to the workspace, whose dependencies the
 * clone has installed), type-checked by that project's own tsc run, and run against a real gateway.
 */

const consumerTs = `
import { createSwitchyardClient, isSwitchyardError, ModelsDocument, type ChatEvent, type SwitchyardError } from '@switchyard/client';

const client = createSwitchyardClient({ url: 'ws://127.0.0.1:1/graphql' });
async function typed(): Promise<void> {
  for await (const event of client.chat({ messages: [{ role: 'USER', content: 'typed' }] })) {
    const e: ChatEvent = event;
    if (e.__typename === 'ChatChunk') {
      const text: string = e.text;
      // @ts-expect-error a chunk has no arm: the union is narrowed, not any
      void e.arm;
      void text;
    }
  }
  const { arm } = await client.feedback({ requestId: 'r', thumbs: 'UP' });
  const mean: number = arm.posterior.mean;
  const models = await client.request(ModelsDocument, {});
  const provider: string = models.models[0]!.provider;
  // @ts-expect-error feedback takes one of score, thumbs or rating: thumbs is UP or DOWN
  await client.feedback({ requestId: 'r', thumbs: 'SIDEWAYS' });
  void mean;
  void provider;
}
function handle(error: unknown): string | undefined {
  if (isSwitchyardError(error)) {
    const e: SwitchyardError = error;
    return e.code;
  }
  return undefined;
}
void typed;
void handle;
`;

const consumerMjs = `
import { createSwitchyardClient, isSwitchyardError, SwitchyardError } from '@switchyard/client';

const client = createSwitchyardClient({ url: process.env.SWITCHYARD_WS });
const events = [];
for await (const event of client.chat({ messages: [{ role: 'USER', content: 'from another project' }] })) events.push(event);
const done = events.at(-1);
const feedback = await client.feedback({ requestId: done.requestId, rating: 5 });
let refused;
try {
  for await (const _ of client.chat({ messages: [{ role: 'USER', content: 'pinned' }], arm: 'no-such-arm' })) {}
} catch (error) {
  refused = { typed: error instanceof SwitchyardError, code: error.code, guard: isSwitchyardError(error, 'UNKNOWN_ARM') };
}
const arms = await client.arms();
await client.dispose();
console.log(JSON.stringify({ types: events.map((e) => e.__typename), feedback, refused, pulls: arms.map((a) => a.pulls) }));
`;

describe('the @switchyard/client package in another project', () => {
  let project: string;
  let gateway: RunningGateway;
  let install: { stdout: string; stderr: string };
  beforeAll(async () => {
    project = mkdtempSync(join(tmpdir(), 'switchyard-consumer-'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          lib: ['ES2023', 'DOM'],
          types: [],
        },
        include: ['consumer.ts'],
      }),
    );
    writeFileSync(join(project, 'consumer.ts'), consumerTs);
    writeFileSync(join(project, 'consumer.mjs'), consumerMjs);
    install = await run('npm', ['install', packageDir, '--offline', '--no-audit', '--no-fund'], {
      cwd: project,
      timeout: 120_000,
    });
    gateway = await startGateway();
  }, 180_000);
  afterAll(async () => {
    await gateway?.close();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('installs without warnings (no engine mismatch, no install script) and is recorded as a dependency', async () => {
    expect(install.stderr).toBe('');
    const { stdout } = await run('npm', ['ls', '@switchyard/client', '--offline'], { cwd: project });
    expect(stdout).toContain('@switchyard/client@0.1.0');
  });

  it('type-checks a TypeScript consumer against its .d.ts (narrowed unions, typed errors)', async () => {
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project }).catch(
      (error: { stdout: string }) => error,
    );
    expect('stdout' in result ? result.stdout : '').toBe('');
  });

  it('streams a chat, sends feedback and gets typed errors from a real gateway', async () => {
    const { stdout } = await run(process.execPath, ['consumer.mjs'], {
      cwd: project,
      env: { ...process.env, SWITCHYARD_WS: gateway.wsUrl },
      timeout: 60_000,
    });
    const report = JSON.parse(stdout) as {
      types: string[];
      feedback: { learned: boolean; score: number };
      refused: { typed: boolean; code: string; guard: boolean };
      pulls: number[];
    };
    expect(report.types[0]).toBe('ChatRoute');
    expect(report.types.at(-1)).toBe('ChatDone');
    expect(report.types.filter((t) => t === 'ChatChunk').length).toBeGreaterThan(0);
    expect(report.feedback).toMatchObject({ learned: true, score: 1 });
    expect(report.refused).toEqual({ typed: true, code: 'UNKNOWN_ARM', guard: true });
    expect(report.pulls.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('packs what a registry install needs: JS, declarations and the trusted-document manifest', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: packageDir });
    const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/persisted-documents.json']),
    );
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });
});
