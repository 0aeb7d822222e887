import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createSwitchyardClient, type SwitchyardClient } from '../../src/client/switchyard-client.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

export type LogEntry = Record<string, unknown> & { msg?: string };

export interface SwitchyardProcess {
  readonly pid: number;
  /** The GraphQL endpoint over HTTP. */
  readonly url: string;
  readonly wsUrl: string;
  readonly client: SwitchyardClient;
  /** The process's JSON log lines so far. */
  readonly logs: readonly LogEntry[];
  /** Resolves with the first log line (seen or to come) that matches. */
  waitForLog(matches: (entry: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
  /** SIGTERM, then resolves with the exit code once the process is gone. */
  stop(): Promise<number | null>;
  /** SIGKILL (a crash: nothing is saved, nothing flushed); resolves once the process is gone. */
  kill(): Promise<void>;
}

/**
 * A real Switchyard process (`src/main.ts`), configured by file and environment like production:
 * `config` (when given) is written to a temporary file named by SWITCHYARD_CONFIG, PORT is 0 and the
 * address is read from the JSON "Switchyard listening on" log line.
 */
export async function spawnSwitchyard(
  options: { config?: Record<string, unknown>; env?: Record<string, string> } = {},
): Promise<SwitchyardProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-process-'));
  const env: Record<string, string | undefined> = { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...options.env };
  delete env.SWITCHYARD_CONFIG;
  if (options.config) {
    const configPath = join(dir, 'config.json');
    const server = { ...(options.config.server as Record<string, unknown> | undefined), host: '127.0.0.1' };
    writeFileSync(configPath, JSON.stringify({ ...options.config, server }));
    env.SWITCHYARD_CONFIG = configPath;
  }
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const cleanUp = () => rmSync(dir, { recursive: true, force: true });
  const logs: LogEntry[] = [];
  const waiters = new Set<(entry: LogEntry) => void>();
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listen line within 60 s: ${stderr}`)), 60_000);
      child.once('exit', (code) => reject(new Error(`switchyard exited with ${code}: ${stderr}`)));
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let entry: LogEntry & { url?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          return;
        }
        logs.push(entry);
        for (const waiter of waiters) waiter(entry);
        if (entry.msg?.startsWith('Switchyard listening on') && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      });
    });
    const wsUrl = url.replace(/^http/, 'ws').replace('//0.0.0.0:', '//127.0.0.1:');
    const client = createSwitchyardClient({ url: wsUrl });
    return {
      pid: child.pid!,
      url: url.replace('//0.0.0.0:', '//127.0.0.1:'),
      wsUrl,
      client,
      logs,
      waitForLog(matches, timeoutMs = 10_000) {
        const seen = logs.find(matches);
        if (seen) return Promise.resolve(seen);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            waiters.delete(waiter);
            reject(new Error(`no matching log line within ${timeoutMs} ms`));
          }, timeoutMs);
          const waiter = (entry: LogEntry) => {
            if (!matches(entry)) return;
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(entry);
          };
          waiters.add(waiter);
        });
      },
      async stop() {
        await client.dispose();
        child.kill('SIGTERM');
        const code = await exited;
        cleanUp();
        return code;
      },
      async kill() {
        child.kill('SIGKILL');
        await exited;
        await client.dispose().catch(() => undefined);
        cleanUp();
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    cleanUp();
    throw error;
  }
}
