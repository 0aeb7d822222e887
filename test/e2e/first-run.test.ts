import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

/** What a new user meets in the first minutes: `npm start`, its health, its signals, a busy port. */

/** A process's state letter and parent pid from /proc (the tests run on Linux); undefined once it is gone. */
function processStat(pid: number | string): { state: string; ppid: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is parenthesised and may hold spaces: the fields after it are fixed.
  const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: state!, ppid: Number(ppid) };
}

const alive = (pid: number) => {
  const state = processStat(pid)?.state;
  return state !== undefined && state !== 'Z';
};

/** Pids of every live descendant of `pid`. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || !alive(Number(entry))) continue;
    const ppid = processStat(entry)?.ppid;
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const visit = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

describe('npm start on the embedded default configuration', () => {
  it('answers /health ok without Redis, and SIGTERM to npm stops the gateway too', async () => {
    const npm = spawn('npm', ['start'], {
      env: { ...process.env, PORT: '0', SWITCHYARD_CONFIG: '', REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    let gatewayProcesses: number[] = [];
    try {
      const url = await new Promise<string>((resolve, reject) => {
        npm.once('exit', (code) => reject(new Error(`npm start exited with ${code}`)));
        createInterface({ input: npm.stdout! }).on('line', (line) => {
          const match = /"url":"([^"]+)".*Switchyard listening/.exec(line);
          if (match) resolve(match[1]!);
        });
      });
      const health = await fetch(url.replace('/graphql', '/health'));
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok', redis: 'not configured' });

      gatewayProcesses = descendants(npm.pid!);
      expect(gatewayProcesses.length).toBeGreaterThan(0);
      npm.kill('SIGTERM');
      expect(await exited).toBe(0);
      // Nothing npm started outlives it (a wrapper that does not forward the signal would leave
      // the gateway running, reparented).
      await expect.poll(() => gatewayProcesses.filter(alive), { timeout: 15_000 }).toEqual([]);
    } finally {
      for (const pid of [...descendants(npm.pid!), ...gatewayProcesses].filter(alive)) process.kill(pid, 'SIGKILL');
      npm.kill('SIGKILL');
    }
  });
});

describe('a port already in use', () => {
  let holder: Server;
  let port: number;
  let redis: RedisServerHandle | undefined;
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '0.0.0.0', resolve));
    port = (holder.address() as { port: number }).port;
    if (!skipWithoutRedis()) redis = await startRedisServer();
  });
  afterAll(async () => {
    holder?.close();
    await redis?.stop();
  });

  it('stops start-up with one friendly line and nothing after it, even with Redis configured', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-port-'));
    try {
      // stdout and stderr into one file, so that the order of what the process printed is kept.
      const file = join(dir, 'output.log');
      const fd = openSync(file, 'w');
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { ...process.env, PORT: String(port), SWITCHYARD_CONFIG: '', REDIS_URL: redis?.url ?? '', LOG_LEVEL: 'info' },
        stdio: ['ignore', fd, fd],
        timeout: 30_000,
      });
      closeSync(fd);
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(result.status).toBe(1);
      const failure = `switchyard: failed to start: port ${port} is already in use: stop what holds it, or set PORT (server.port)`;
      expect(lines.at(-1)).toBe(failure);
      // The line is the only non-log output: no stack trace, no "internal error" from the WebSocket server.
      expect(lines.filter((line) => !line.startsWith('{'))).toEqual([failure]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
