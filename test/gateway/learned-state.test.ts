import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { createCapturingLogger, testConfigInput } from '../helpers/gateway.js';

async function chatAndRate(app: App, content: string, thumbs: 'UP' | 'DOWN'): Promise<void> {
  let requestId = '';
  for await (const event of app.services.chat.chat({ messages: [{ role: 'user', content }], cache: false })) {
    if (event.type === 'route') requestId = event.requestId;
  }
  await app.services.chat.submitFeedback({ requestId, thumbs });
}

const posteriors = (app: App) =>
  app.services.router.arms().map((arm) => ({ id: arm.id, pulls: arm.pulls, alpha: arm.posterior.alpha, beta: arm.posterior.beta }));

describe('learned state across restarts', () => {
  it('a restarted gateway routes with what the previous one learnt', async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'switchyard-state-')), 'router-state.json');
    const config = parseConfig(testConfigInput({ router: { stateFile }, shadow: { rate: 0 } }));
    const first = buildApp({ config, logger: createLogger('silent'), env: {} });
    await first.start(0, '127.0.0.1');
    for (let i = 0; i < 40; i++) await chatAndRate(first, `question ${i}`, i % 3 === 0 ? 'DOWN' : 'UP');
    const learnt = posteriors(first);
    const contexts = first.services.router.contexts();
    await first.stop();
    expect(existsSync(stateFile)).toBe(true);

    const second = buildApp({ config, logger: createLogger('silent'), env: {} });
    expect(posteriors(second)).toEqual(learnt);
    expect(second.services.router.contexts()).toEqual(contexts);
    await second.stop();
  });

  it('an unreadable state file is kept aside and the router starts fresh', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-state-'));
    const stateFile = join(dir, 'router-state.json');
    writeFileSync(stateFile, '{"version": 1, "contexts": [{"context": 3}]}');
    const log = createCapturingLogger('info');
    const app = buildApp({ config: parseConfig(testConfigInput({ router: { stateFile } })), logger: log.logger, env: {} });
    expect(app.services.router.arms().every((arm) => arm.pulls === 0)).toBe(true);
    expect(readdirSync(dir).some((name) => name.startsWith('router-state.json.unreadable-'))).toBe(true);
    expect(log.lines.some((line) => line.includes('learned state unreadable'))).toBe(true);
    await app.stop();
  });
});
