import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash, as far as clients can tell. */
  kill(): Promise<void>;
  /** SIGKILL, then a server on the same port: empty, or from its append-only file when persistent. */
  restart(): Promise<void>;
  /** Starts the server again after kill() (as restart() would). */
  start(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers (a hung Redis). */
  pause(): void;
  /** SIGCONT after pause. */
  resume(): void;
}

/** Whether `redis-server` is on PATH. */
export function redisServerAvailable(): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'redis-server'), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Whether tests that need a real Redis should skip. They skip only outside CI: under CI a missing
 * binary must fail them (startRedisServer then throws), so the suite cannot pass by skipping.
 */
export function skipWithoutRedis(): boolean {
  if (redisServerAvailable() || process.env.CI) return false;
  console.warn('redis-server is not on PATH: skipping the tests that need a real Redis (install redis-server to run them)');
  return true;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function launch(port: number, dataDir: string | null): Promise<ChildProcess> {
  // Persistent: an append-only file fsynced on every write, so a SIGKILL loses nothing acknowledged
  // (what a deployment keeping shared learning in Redis runs with; see docs/scaling.md).
  const persistence = dataDir
    ? ['--dir', dataDir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always']
    : ['--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', ['--port', String(port), ...persistence, '--bind', '127.0.0.1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const spawnError = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`cannot start redis-server: ${error.message}`)));
  });
  // Marked handled so an error after start-up cannot become an unhandled rejection.
  spawnError.catch(() => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${stderr}`);
    if (await Promise.race([ping(port), spawnError])) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * A private redis-server on a free port of 127.0.0.1: non-persistent (restart() starts empty), or
 * with `persistent` an append-only file in a temporary directory that restart() starts from.
 */
export async function startRedisServer(options: { persistent?: boolean } = {}): Promise<RedisServerHandle> {
  const port = await freePort();
  const dataDir = options.persistent ? mkdtempSync(join(tmpdir(), 'switchyard-redis-')) : null;
  let child: ChildProcess | null = await launch(port, dataDir);

  async function terminate(signal: NodeJS.Signals): Promise<void> {
    const running = child;
    child = null;
    if (running === null) return;
    running.kill(signal);
    // A paused server only acts on SIGTERM once continued.
    running.kill('SIGCONT');
    await exited(running);
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await terminate('SIGTERM');
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
    kill: () => terminate('SIGKILL'),
    async restart() {
      await terminate('SIGKILL');
      child = await launch(port, dataDir);
    },
    async start() {
      child ??= await launch(port, dataDir);
    },
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
  };
}
