import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArmsInContextDocument,
  CacheDocument,
  ChatDocument,
  ShadowDocument,
  SubmitFeedbackDocument,
} from '../../src/client/generated/graphql.js';
import { buildApp, type App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { createRng } from '../../src/router/random.js';
import { launchBrowser, runBrowserTests, screenshot, screenshotPath, type Browser } from '../helpers/browser.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

/**
 * The web console, driven in headless Chromium as a person would: chat, feedback and watching the
 * router learn; admin actions with and without the key; a gateway stopped and started again on the
 * same port under an open page.
 */

const ADMIN_TOKEN = 'console-test-admin-token';

/** Models slow enough that an answer visibly streams, fast enough for a test. */
function consoleConfig(): Record<string, unknown> {
  const model = (id: string, quality: number, ttftMs: number, tokensPerSecond: number, outputPer1k: number) => ({
    id,
    provider: 'simulated',
    ttftMs,
    tokensPerSecond,
    errorRate: 0,
    quality,
    inputPer1k: outputPer1k / 3,
    outputPer1k,
    answerTokens: 48,
  });
  return testConfigInput({
    models: [
      model('m-flash', 0.45, 10, 160, 0.0002),
      model('m-swift', 0.62, 20, 140, 0.0015),
      model('m-sage', 0.8, 40, 120, 0.006),
      model('m-titan', 0.88, 60, 100, 0.03),
    ],
    arms: [
      { id: 'flash', model: 'm-flash' },
      { id: 'swift', model: 'm-swift' },
      { id: 'sage', model: 'm-sage' },
      { id: 'titan', model: 'm-titan' },
    ],
    server: { adminTokenEnv: 'SWITCHYARD_ADMIN_TOKEN' },
    shadow: { rate: 0.3, seed: 3 },
    // Few enough pulls for the analyzer to judge arms within one test's traffic.
    analyzer: { recommendations: { minPulls: 20 } },
  });
}

const consoleUrl = (gateway: { url: string }) => gateway.url.replace(/\/graphql$/, '/');

async function openConsole(browser: Browser, url: string, tab = 'chat'): Promise<Page> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  (page as Page & { problems?: string[] }).problems = problems;
  await page.goto(`${url}#${tab}`);
  await page.getByTestId('connection-status').getByText('Connected').waitFor();
  return page;
}

const problemsOf = (page: Page) => (page as Page & { problems?: string[] }).problems ?? [];

async function ask(page: Page, prompt: string, tags: string): Promise<void> {
  await page.getByRole('tab', { name: 'Chat' }).click();
  await page.getByLabel('Prompt').fill(prompt);
  await page.getByLabel('Tags').fill(tags);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** How long a page may take to show what it was told, on a busy machine: a bound, not a pace. */
const SOON = { timeout: 15_000 };

const number = async (page: Page, testId: string) => Number(await page.getByTestId(testId).textContent());

// Generous bounds: a browser, a gateway and traffic share two cores with other test files.
describe.skipIf(!runBrowserTests)('the web console in Chromium', { timeout: 90_000 }, () => {
  let gateway: RunningGateway;
  let browser: Browser;
  beforeAll(async () => {
    gateway = await startGateway({ config: consoleConfig(), env: { SWITCHYARD_ADMIN_TOKEN: ADMIN_TOKEN } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('is served by the gateway, self-contained, beside GraphQL', async () => {
    const page = await fetch(consoleUrl(gateway));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const html = await page.text();
    expect(html).toContain('<meta name="switchyard-graphql-path" content="/graphql" />');
    // Every script and stylesheet comes from the gateway itself.
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.every((source) => source.startsWith('/console/') || source.startsWith('data:'))).toBe(true);
    const script = await fetch(new URL('/console/app.js', gateway.url));
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(await script.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org)[a-z0-9.-]+\.(?:com|net|io|org)\/[^"'\s]*\.(?:js|css)/);
    // GraphQL stays where it was.
    expect((await fetch(gateway.url, { headers: { accept: 'text/html' } })).status).toBe(200);
  });

  it('chat → streamed answer → thumbs up → the arm’s posterior moves on the router panel', async () => {
    const page = await openConsole(browser, consoleUrl(gateway));
    // Record what the answer looked like at every change, to see it arrive in pieces.
    await page.evaluate(() => {
      const seen: Array<{ status: string; length: number }> = [];
      (window as unknown as { answerStates: typeof seen }).answerStates = seen;
      new MutationObserver(() => {
        const answer = document.querySelector('[data-testid="answer"]');
        const status = document.querySelector('[data-testid="answer-status"]');
        if (answer && status) seen.push({ status: status.textContent ?? '', length: answer.textContent?.length ?? 0 });
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await ask(page, 'Explain Thompson sampling to a new engineer on the team.', 'browser');
    await page.getByTestId('answer-status').getByText(/^Done/).waitFor();
    const states = await page.evaluate(() => (window as unknown as { answerStates: Array<{ status: string; length: number }> }).answerStates);
    const final = (await page.getByTestId('answer').textContent())!.length;
    const partial = new Set(states.filter((s) => s.status.startsWith('Streaming') && s.length > 0 && s.length < final).map((s) => s.length));
    // Seen in at least two pieces short of the whole answer, while the stream was open.
    expect(partial.size).toBeGreaterThanOrEqual(2);

    const arm = (await page.getByTestId('route-arm').locator('strong').textContent())!;
    expect(await page.getByTestId('route-context').textContent()).toBe('browser');
    await expect.poll(() => page.getByTestId('metric-latency').textContent(), SOON).toMatch(/\d/);

    await page.getByRole('tab', { name: 'Router' }).click();
    await page.getByLabel('Context').selectOption('browser');
    const meanCell = `posterior-mean-${arm}`;
    await expect.poll(() => page.getByTestId(meanCell).textContent(), SOON).toMatch(/^\d\.\d{3}$/);
    const before = await number(page, meanCell);

    await page.getByRole('tab', { name: 'Chat' }).click();
    await page.getByRole('button', { name: 'Thumbs up' }).click();
    const learned = page.getByTestId('learned');
    await learned.getByText('Learned').waitFor();
    expect(await learned.textContent()).toContain(`${arm} in browser`);
    const after = await number(page, 'learned-mean');
    expect(after).toBeGreaterThan(before);
    await screenshot(page, 'chat');

    await learned.getByRole('button', { name: /on the Router panel/ }).click();
    expect(await page.getByLabel('Context').inputValue()).toBe('browser');
    // The router panel follows the metrics subscription: the new posterior arrives with a snapshot.
    await expect.poll(() => number(page, meanCell), SOON).toBeGreaterThan(before);
    expect(await number(page, meanCell)).toBeCloseTo(after, 3);

    await page.getByRole('tab', { name: 'Chat' }).click();
    await expect.poll(() => page.getByTestId('recent-requests').locator('tbody tr').first().textContent(), SOON).toContain('1.00');
    expect(problemsOf(page)).toEqual([]);
    await page.close();
  });

  it('sends a cost ceiling with the chat, and the route goes to an arm within it', async () => {
    // Every arm's cost is known in the context first: an arm never observed stays a candidate.
    for (const arm of ['flash', 'swift', 'sage', 'titan']) {
      for (let i = 0; i < 2; i++) {
        for await (const result of gateway.client.subscribe(ChatDocument, {
          input: { messages: [{ role: 'USER', content: `Warm ${arm} ${i}` }], tags: ['budget'], arm, cache: false },
        })) {
          expect(result.errors).toBeUndefined();
        }
      }
    }
    const page = await openConsole(browser, consoleUrl(gateway));
    await page.getByLabel('Use the cache').uncheck();
    // 48 answer tokens cost about $0.00001 on flash and $0.00007 or more on every other arm.
    await page.getByLabel('Max cost (USD)').fill('0.00005');
    const arms = [];
    for (let i = 0; i < 3; i++) {
      const prompt = `Keep it cheap, answer ${i}.`;
      await ask(page, prompt, 'budget');
      // The previous answer said Done too: wait for this one's.
      await page.locator('.asked', { hasText: prompt }).waitFor();
      await page.getByTestId('answer-status').getByText(/^Done/).waitFor();
      arms.push(await page.getByTestId('route-arm').locator('strong').textContent());
      await expect.poll(() => page.getByTestId('metric-cost').textContent(), SOON).toMatch(/\d/);
    }
    expect(arms).toEqual(['flash', 'flash', 'flash']);

    // Out of range: the gateway's INVALID_OBJECTIVE shows as the answer's error.
    await page.getByLabel('Max cost (USD)').fill('');
    await page.getByLabel('Cost weight').fill('5000');
    await ask(page, 'Weigh cost too much.', 'budget');
    await expect.poll(() => page.getByTestId('answer-error').textContent(), SOON).toContain('INVALID_OBJECTIVE');
    expect(problemsOf(page)).toEqual([]);
    await page.close();
  });

  it('refuses admin actions without the key, with a wrong key, and performs them with it', async () => {
    // Something cached, so that invalidation has something to remove.
    for (let i = 0; i < 2; i++) {
      for await (const _ of gateway.client.subscribe(ChatDocument, { input: { messages: [{ role: 'USER', content: 'Cache me.' }] } })) void _;
    }
    const page = await openConsole(browser, consoleUrl(gateway), 'router');
    const armEnabled = async (id: string) => (await gateway.client.request(ArmsInContextDocument, {})).armsInContext.find((a) => a.arm.id === id)!.arm.enabled;
    const disableFlash = page.getByRole('button', { name: 'Disable flash' });

    await disableFlash.click();
    await expect.poll(() => page.getByTestId('arm-admin-notice').textContent(), SOON).toMatch(/Refused \(FORBIDDEN\).*Enter a key with the admin scope/);
    expect(await armEnabled('flash')).toBe(true);

    await page.getByRole('tab', { name: 'Operations' }).click();
    await page.getByLabel('Shadow rate').fill('0.5');
    await page.getByRole('button', { name: 'Set shadow rate' }).click();
    await expect.poll(() => page.getByTestId('shadow-admin-notice').textContent(), SOON).toMatch(/FORBIDDEN/);
    await page.getByRole('button', { name: 'Invalidate cache' }).click();
    await expect.poll(() => page.getByTestId('cache-admin-notice').textContent(), SOON).toMatch(/FORBIDDEN/);
    expect((await gateway.client.request(ShadowDocument, {})).shadow.rate).toBe(0.3);
    expect((await gateway.client.request(CacheDocument, {})).cache.l1.entries).toBeGreaterThan(0);

    await page.getByLabel('API key').fill('not-the-token');
    await page.getByRole('button', { name: 'Use' }).click();
    await page.getByTestId('connection-status').getByText('Connected').waitFor();
    await page.getByRole('tab', { name: 'Router' }).click();
    await disableFlash.click();
    await expect.poll(() => page.getByTestId('arm-admin-notice').textContent(), SOON).toMatch(/FORBIDDEN.*no admin scope here/);
    expect(await armEnabled('flash')).toBe(true);

    await page.getByRole('button', { name: 'Forget' }).click();
    await page.getByLabel('API key').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Use' }).click();
    await page.getByText('API key in use').waitFor();
    await page.getByTestId('connection-status').getByText('Connected').waitFor();
    await disableFlash.click();
    await expect.poll(() => page.getByTestId('arm-admin-notice').textContent(), SOON).toContain('flash is now disabled');
    await expect.poll(() => page.getByTestId('enabled-flash').textContent(), SOON).toBe('disabled');
    expect(await armEnabled('flash')).toBe(false);
    await page.getByRole('button', { name: 'Enable flash' }).click();
    await expect.poll(() => page.getByTestId('enabled-flash').textContent(), SOON).toBe('enabled');
    expect(await armEnabled('flash')).toBe(true);

    await page.getByRole('tab', { name: 'Operations' }).click();
    await page.getByLabel('Shadow rate').fill('0.5');
    await page.getByRole('button', { name: 'Set shadow rate' }).click();
    await expect.poll(() => page.getByTestId('shadow-admin-notice').textContent(), SOON).toContain('Shadow rate set to 50%');
    expect((await gateway.client.request(ShadowDocument, {})).shadow.rate).toBe(0.5);
    await expect.poll(() => page.getByTestId('shadow-rate').textContent(), SOON).toMatch(/^50%/);
    await page.getByRole('button', { name: 'Invalidate cache' }).click();
    await expect.poll(() => page.getByTestId('cache-admin-notice').textContent(), SOON).toMatch(/^Removed [1-9]\d* cached cop/);
    expect((await gateway.client.request(CacheDocument, {})).cache.l1.entries).toBe(0);
    expect(problemsOf(page)).toEqual([]);
    await page.close();
  });

  it('shows the router learning and the gateway running under traffic (screenshots)', async () => {
    const page = await openConsole(browser, consoleUrl(gateway), 'router');
    await page.getByLabel('Context').selectOption('*');
    // Simulated users: each answer is liked with its model's configured quality.
    const quality: Record<string, number> = { flash: 0.45, swift: 0.62, sage: 0.8, titan: 0.88 };
    const rng = createRng(11);
    const contexts = [['code'], ['chat'], ['math']];
    let sent = 0;
    const user = async (lane: number) => {
      for (let i = 0; i < 16; i++) {
        let requestId = '';
        let feedbackToken = '';
        let arm = '';
        for await (const result of gateway.client.subscribe(ChatDocument, {
          input: { messages: [{ role: 'USER', content: `Question ${lane}-${i}: how do I ${['sort', 'parse', 'cache'][i % 3]} this?` }], tags: contexts[(lane + i) % 3], cache: false },
        })) {
          const event = result.data!.chat;
          if (event.__typename === 'ChatRoute') ({ requestId, feedbackToken, arm } = event);
        }
        await gateway.client.request(SubmitFeedbackDocument, { input: { requestId, feedbackToken, thumbs: rng() < quality[arm]! ? 'UP' : 'DOWN' } });
        sent++;
      }
    };
    await Promise.all([0, 1, 2, 3].map(user));
    expect(sent).toBe(64);
    await page.getByLabel('Context').selectOption('code');
    await expect.poll(() => page.getByTestId('arms-table').locator('tbody tr').count(), SOON).toBe(4);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="chart-traffic"] .u-series').length > 1);
    await screenshot(page, 'router');

    await page.getByRole('tab', { name: 'Operations' }).click();
    await expect.poll(() => page.getByTestId('kpi-requests').textContent(), SOON).toMatch(/[1-9]/);
    await screenshot(page, 'operations');
    await page.screenshot({ path: screenshotPath('operations-full-page'), fullPage: true });

    await ask(page, 'Which arm answers best for code questions?', 'code');
    await page.getByTestId('answer-status').getByText(/^Done/).waitFor();
    await page.getByRole('button', { name: 'Rate 4 of 5' }).click();
    await page.getByTestId('learned').getByText('Learned').waitFor();
    await screenshot(page, 'chat-after-traffic');
    expect(problemsOf(page)).toEqual([]);
    await page.close();
  });
});

describe.skipIf(!runBrowserTests)('the web console across a gateway restart', { timeout: 90_000 }, () => {
  let browser: Browser;
  let gateway: App | undefined;
  const startOn = async (port: number) => {
    const app = buildApp({ config: parseConfig(testConfigInput()), logger: createLogger('silent'), env: {} });
    const address = await app.start(port, '127.0.0.1');
    gateway = app;
    return address.port;
  };
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.stop();
  });

  it('says the gateway is down while it is, reconnects by itself and works again', async () => {
    const port = await startOn(0);
    const page = await openConsole(browser, `http://127.0.0.1:${port}/`, 'router');
    await page.getByTestId('arms-table').waitFor();

    // The same graceful stop as on SIGTERM: sockets are closed, the port is freed.
    await gateway!.stop();
    gateway = undefined;
    const banner = page.getByTestId('connection-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toMatch(/The gateway is not reachable.*Reconnecting by itself/);
    expect(await page.getByTestId('connection-status').textContent()).toBe('Gateway unreachable');
    await screenshot(page, 'gateway-down');

    await startOn(port);
    await page.getByTestId('connection-status').getByText('Connected').waitFor();
    await banner.waitFor({ state: 'detached' });
    // The metrics subscription resumed by itself, and saw a new gateway.
    await page.getByTestId('restart-banner').waitFor();

    await ask(page, 'Are you back?', 'restart');
    await page.getByTestId('answer-status').getByText(/^Done/).waitFor();
    expect(await page.getByTestId('route-context').textContent()).toBe('restart');
    // Chromium reports the refused reconnection attempts; nothing else may go wrong.
    expect(problemsOf(page).filter((p) => !/WebSocket/.test(p))).toEqual([]);
    await page.close();
  });
});

describe.skipIf(!runBrowserTests)('the web console on a gateway with client keys', { timeout: 90_000 }, () => {
  const KEY = 'sk-console-7c1e3a5b9d2f4e6a';
  let gateway: RunningGateway;
  let browser: Browser;
  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({ auth: { keys: [{ id: 'operator', env: 'OPERATOR_KEY', scopes: ['read', 'chat', 'feedback'] }] } }),
      env: { OPERATOR_KEY: KEY },
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('says a key is needed (not that the gateway is down), refuses a wrong one, and works with the right one', async () => {
    const page = await browser.newPage();
    await page.goto(consoleUrl(gateway));
    const status = page.getByTestId('connection-status');
    const banner = page.getByTestId('connection-banner');
    await status.getByText('Key required').waitFor(SOON);
    expect(await banner.textContent()).toMatch(/^The gateway needs a client key\./);

    await page.getByLabel('API key').fill('sk-not-a-key-of-this-gateway');
    await page.getByRole('button', { name: 'Use' }).click();
    await banner.getByText('The gateway does not accept this key.').waitFor(SOON);
    expect(await status.textContent()).toBe('Key required');

    await page.getByRole('button', { name: 'Forget' }).click();
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Use' }).click();
    await status.getByText('Connected').waitFor(SOON);
    await banner.waitFor({ state: 'detached' });
    await ask(page, 'Hello with a key', 'keys');
    await page.getByTestId('answer-status').getByText(/^Done/).waitFor(SOON);
    await page.close();
  });
});
