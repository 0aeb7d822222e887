import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArmsDocument, ChatDocument, SubmitFeedbackDocument } from '../../src/client/generated/graphql.js';
import { createSwitchyardClient, type SwitchyardClient } from '../../src/client/switchyard-client.js';
import { alive, descendants } from '../helpers/process-tree.js';

/**
 * What `npm start` promises, run as `npm start`: the embedded default serves routed chats, learns
 * from feedback, says `ok` on /health without Redis, and SIGTERM to npm stops the gateway with it.
 */

describe('npm start on the embedded default configuration', () => {
  let npm: ReturnType<typeof spawn>;
  let exited: Promise<number | null>;
  let url: string;
  let client: SwitchyardClient;
  let gatewayProcesses: number[] = [];
  beforeAll(async () => {
    npm = spawn('npm', ['start'], {
      env: { ...process.env, PORT: '0', SWITCHYARD_CONFIG: '', REDIS_URL: '', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    exited = new Promise((resolve) => npm.once('exit', (code) => resolve(code)));
    url = await new Promise<string>((resolve, reject) => {
      npm.once('exit', (code) => reject(new Error(`npm start exited with ${code}`)));
      createInterface({ input: npm.stdout! }).on('line', (line) => {
        const match = /"url":"([^"]+)".*Switchyard listening/.exec(line);
        if (match) resolve(match[1]!);
      });
    });
    client = createSwitchyardClient({ url: url.replace(/^http/, 'ws') });
    // npm, the console's build (prestart) and tsx's start of src/main.ts: past 30 s under a load of 10+.
  }, 90_000);
  afterAll(async () => {
    await client?.dispose();
    for (const pid of [...descendants(npm.pid!), ...gatewayProcesses].filter(alive)) process.kill(pid, 'SIGKILL');
    npm?.kill('SIGKILL');
  });

  it('streams a chat, learns from feedback and shows it in arms', async () => {
    const types: string[] = [];
    let requestId = '';
    let arm = '';
    let feedbackToken = '';
    for await (const result of client.subscribe(ChatDocument, {
      input: { messages: [{ role: 'USER', content: 'Hello, which model are you?' }] },
    })) {
      expect(result.errors).toBeUndefined();
      const event = result.data!.chat;
      types.push(event.__typename);
      if (event.__typename === 'ChatRoute') {
        requestId = event.requestId;
        feedbackToken = event.feedbackToken;
        arm = event.arm;
      }
    }
    expect(types[0]).toBe('ChatRoute');
    expect(types.at(-1)).toBe('ChatDone');
    expect(types.filter((t) => t === 'ChatChunk').length).toBeGreaterThan(0);

    const before = (await client.request(ArmsDocument, {})).arms.find((a) => a.id === arm)!;
    await client.request(SubmitFeedbackDocument, { input: { requestId, feedbackToken, rating: 5 } });
    const after = (await client.request(ArmsDocument, {})).arms.find((a) => a.id === arm)!;
    expect(after.posterior.alpha).toBeGreaterThan(before.posterior.alpha);
    expect(after.posterior.mean).toBeGreaterThan(before.posterior.mean);
  });

  it('answers /health ok: no Redis was asked for', async () => {
    const health = await fetch(url.replace('/graphql', '/health'));
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', redis: 'not configured' });
  });

  it('stops on SIGTERM to npm, and nothing npm started outlives it', async () => {
    await client.dispose();
    gatewayProcesses = descendants(npm.pid!);
    expect(gatewayProcesses.length).toBeGreaterThan(0);
    npm.kill('SIGTERM');
    expect(await exited).toBe(0);
    // A wrapper that does not forward the signal would leave the gateway running, reparented.
    await expect.poll(() => gatewayProcesses.filter(alive), { timeout: 15_000 }).toEqual([]);
  });
});
