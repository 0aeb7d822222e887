/**
 * Resident memory of a process that has just started and listens, idle: the embedded default
 * (`node dist/main.js`, what `npm run build && npm run serve` runs; and under tsx, what `npm start`
 * runs) against a bare graphql-yoga + graphql-ws server on the same schema and a plain node:http
 * server, each in the same runtime. Median of ROUNDS starts each; Linux only (reads /proc).
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './bench-kit.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
// Under node_modules, so the compiled files resolve the repository's packages.
const BUILD = join(ROOT, 'node_modules', '.cache', 'switchyard-startup-bench');
const ROUNDS = 3;
const SETTLE_MS = 1_000;

interface Target {
  readonly name: string;
  readonly args: readonly string[];
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!kb) throw new Error('no VmRSS');
  return Number(kb[1]) * 1024;
}

/** Starts the target, waits until it prints "listening", lets it settle, reads its RSS, stops it. */
async function startedRss(target: Target): Promise<{ rss: number; startMs: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, target.args, {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', SWITCHYARD_CONFIG: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const startMs = await new Promise<number>((resolve, reject) => {
      let output = '';
      child.stdout.on('data', (data: Buffer) => {
        output += data.toString();
        if (output.includes('listening')) resolve(performance.now() - started);
      });
      child.once('exit', (code) => reject(new Error(`${target.name} exited with ${code}: ${output}`)));
    });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    return { rss: rssOf(child.pid!), startMs };
  } finally {
    child.kill();
  }
}

function build(): void {
  mkdirSync(BUILD, { recursive: true });
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json'), '--noEmit', 'false', '--outDir', BUILD], {
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error('tsc failed');
  copyFileSync(join(ROOT, 'schema.graphql'), join(BUILD, 'schema.graphql'));
}

export async function run(): Promise<void> {
  if (!existsSync('/proc/self/status')) {
    console.log('startup-rss: /proc is not available, skipped');
    return;
  }
  build();
  const plainHttp = `require('node:http').createServer().listen(0, () => console.log('listening'))`;
  const targets: Target[] = [
    { name: 'node:http server', args: ['-e', plainHttp] },
    { name: 'bare yoga + graphql-ws (compiled)', args: [join(BUILD, 'bench', 'targets', 'idle-bare-server.js')] },
    { name: 'Switchyard default (compiled)', args: [join(BUILD, 'src', 'main.js')] },
    { name: 'bare yoga + graphql-ws (tsx)', args: ['--import', 'tsx', join(ROOT, 'bench', 'targets', 'idle-bare-server.ts')] },
    { name: 'Switchyard default (tsx)', args: ['--import', 'tsx', join(ROOT, 'src', 'main.ts')] },
  ];
  const results = new Map<string, { rss: number; startMs: number }>();
  for (const target of targets) {
    const runs: Array<{ rss: number; startMs: number }> = [];
    for (let round = 0; round < ROUNDS; round++) runs.push(await startedRss(target));
    const figure = { rss: median(runs.map((r) => r.rss)), startMs: median(runs.map((r) => r.startMs)) };
    results.set(target.name, figure);
    console.log(`  ${target.name.padEnd(36)} RSS ${(figure.rss / 2 ** 20).toFixed(0).padStart(4)} MB, listening after ${figure.startMs.toFixed(0)} ms`);
  }
  for (const runtime of ['compiled', 'tsx']) {
    const yard = results.get(`Switchyard default (${runtime})`)!;
    const bare = results.get(`bare yoga + graphql-ws (${runtime})`)!;
    console.log(`  ${runtime}: Switchyard/bare RSS ${(yard.rss / bare.rss).toFixed(2)}, +${((yard.rss - bare.rss) / 2 ** 20).toFixed(0)} MB`);
  }
}
