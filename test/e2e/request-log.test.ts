import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatDocument } from '../../src/client/generated/graphql.js';
import type { SwitchyardClient } from '../../src/client/switchyard-client.js';
import { spawnSwitchyard, type LogEntry, type SwitchyardProcess } from '../helpers/switchyard-process.js';

const simulated = (id: string, errorRate: number) => ({
  id,
  provider: 'simulated',
  ttftMs: 0,
  tokensPerSecond: 0,
  errorRate,
  inputPer1k: 0.001,
  outputPer1k: 0.002,
  answerTokens: 12,
});

const config = {
  logLevel: 'info',
  models: [simulated('m-ok', 0), simulated('m-broken', 1)],
  arms: [
    { id: 'ok', model: 'm-ok' },
    { id: 'broken', model: 'm-broken' },
  ],
  router: { maxAttempts: 1 },
  streaming: { pacing: { minMs: 0, maxMs: 0 } },
};

async function chatTo(client: SwitchyardClient, content: string, arm: string): Promise<string> {
  let requestId = '';
  for await (const result of client.subscribe(ChatDocument, { input: { messages: [{ role: 'USER', content }], arm } })) {
    const event = result.data!.chat;
    if (event.__typename === 'ChatRoute') requestId = event.requestId;
  }
  return requestId;
}

const finished = (requestId: string) => (entry: LogEntry) => entry.msg === 'request finished' && entry.requestId === requestId;

describe('one log line per finished request', () => {
  let gateway: SwitchyardProcess;
  beforeAll(async () => {
    gateway = await spawnSwitchyard({ config });
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it('says, as JSON at info, what served it, how long it took, what it cost and how it ended', async () => {
    const served = await chatTo(gateway.client, 'A question for the log.', 'ok');
    const line = await gateway.waitForLog(finished(served));
    expect(line).toMatchObject({
      level: 30,
      component: 'chat',
      status: 'completed',
      arm: 'ok',
      model: 'm-ok',
      context: expect.any(String),
      cached: false,
      attempts: 1,
      finishReason: 'stop',
    });
    expect(line.latencyMs).toEqual(expect.any(Number));
    expect(line.ttftMs).toEqual(expect.any(Number));
    expect(line.costUsd as number).toBeGreaterThan(0);
    expect(JSON.stringify(line)).not.toMatch(/A question for the log/);

    const cached = await chatTo(gateway.client, 'A question for the log.', 'ok');
    expect(await gateway.waitForLog(finished(cached))).toMatchObject({ status: 'completed', cached: true, costUsd: 0 });

    const failed = await chatTo(gateway.client, 'This one breaks.', 'broken');
    const failure = await gateway.waitForLog(finished(failed));
    expect(failure).toMatchObject({ status: 'failed', arm: 'broken', errorCode: expect.stringMatching(/^[A-Z_]+$/) });
    expect(failure).not.toHaveProperty('finishReason');
  });
});

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const hasScript = spawnSync('script', ['--version']).status === 0;

describe.skipIf(!hasScript)('on a terminal', () => {
  it('the logger writes pretty lines instead of JSON', async () => {
    // The process's logger, as src/main.ts makes it (no destination), with stdout on a pseudo-terminal
    // from util-linux `script`, as a person's shell would give it.
    const program = [
      "const { createLogger } = await import('./src/logger.ts');",
      "const log = createLogger('info').child({ component: 'chat' });",
      "log.info({ requestId: 'r-pretty', arm: 'flash', latencyMs: 12 }, 'request finished');",
    ].join(' ');
    const child = spawn('script', ['-qfec', `"${process.execPath}" --import tsx --input-type=module -e "${program}"`, '/dev/null'], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    expect(output).toMatch(/\x1b\[/); // coloured
    const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
    const line = plain.split(/\r?\n/).find((l) => l.includes('r-pretty'))!;
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: chat: request finished \{"requestId":"r-pretty","arm":"flash","latencyMs":12\}/);
    expect(plain).not.toMatch(/"level":30/);
  });
});
