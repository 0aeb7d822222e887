import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipWithoutRedis, startRedisServer, type RedisServerHandle } from '../helpers/redis-server.js';

/** A new user whose port 4000 is taken meets one line that says so, whatever else is configured. */
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
        timeout: 60_000,
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
