import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArmsDocument } from '../../src/client/generated/graphql.js';
import { launchBrowser, runBrowserTests, type Browser } from '../helpers/browser.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { startSlowGateway } from '../helpers/slow-gateway.js';

/**
 * A subscription read with the browser's own EventSource (GET, `Accept: text/event-stream`):
 * EventSource reconnects whenever a stream ends, so without an end it understands, one chat on a
 * page became a chat every ~3 s (see src/server/event-source-end.ts).
 */

const CHAT = 'subscription { chat(input: { messages: [{ role: USER, content: "Asked once by an EventSource" }], cache: false }) { __typename } }';

describe.skipIf(!runBrowserTests)('EventSource in Chromium', { timeout: 60_000 }, () => {
  let gateway: RunningGateway;
  let browser: Browser;
  beforeAll(async () => {
    gateway = await startGateway({ config: testConfigInput({ cache: { enabled: false }, shadow: { rate: 0 } }) });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('runs a chat once: after its complete event the browser does not ask again', async () => {
    const page = await browser.newPage();
    await page.goto(gateway.url.replace(/\/graphql$/, '/'));
    const seen = await page.evaluate(async ({ url, query }) => {
      const source = new EventSource(`${url}?query=${encodeURIComponent(query)}`);
      const types: string[] = [];
      source.addEventListener('next', (event) => types.push(JSON.parse((event as MessageEvent<string>).data).data.chat.__typename));
      await new Promise<void>((resolve) => source.addEventListener('complete', () => resolve()));
      // EventSource's default reconnection delay is about 3 s: two of them would have asked twice more.
      await new Promise((resolve) => setTimeout(resolve, 7_000));
      const state = source.readyState;
      source.close();
      return { types, closed: state === EventSource.CLOSED };
    }, { url: gateway.url, query: CHAT });
    expect(seen).toMatchObject({ closed: true });
    const { types } = seen as { types: string[] };
    expect(types.filter((t) => t === 'ChatRoute')).toHaveLength(1);
    expect(types.at(-1)).toBe('ChatDone');
    const { arms } = await gateway.client.request(ArmsDocument, {});
    expect(arms.reduce((sum, arm) => sum + arm.pulls, 0)).toBe(1);
    await page.close();
  });

  it('closing the EventSource mid-stream aborts the model call', async () => {
    const slow = await startSlowGateway();
    const page = await browser.newPage();
    try {
      await page.goto(slow.gateway.url.replace(/\/graphql$/, '/'));
      await page.evaluate(async ({ url, query }) => {
        const source = new EventSource(`${url}?query=${encodeURIComponent(query)}`);
        let chunks = 0;
        await new Promise<void>((resolve) =>
          source.addEventListener('next', (event) => {
            if ((event as MessageEvent<string>).data.includes('ChatChunk') && ++chunks === 2) resolve();
          }),
        );
        source.close();
      }, { url: slow.gateway.url, query: CHAT });
      // The answer takes 20 s at its pace: only the abort ends it sooner.
      await expect.poll(() => slow.aborted.length, { timeout: 10_000 }).toBe(1);
      expect(slow.started()).toBe(1);
    } finally {
      await page.close();
      await slow.gateway.close();
    }
  });
});

describe.skipIf(!runBrowserTests)('SSE from a browser page of a gateway with client keys', { timeout: 60_000 }, () => {
  const KEY = 'sk-browser-2c7e9a41d5b86f03';
  let gateway: RunningGateway;
  let browser: Browser;
  beforeAll(async () => {
    gateway = await startGateway({
      config: testConfigInput({ cache: { enabled: false }, shadow: { rate: 0 }, auth: { keys: [{ id: 'page', env: 'PAGE_KEY', scopes: ['read', 'chat'] }] } }),
      env: { PAGE_KEY: KEY },
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
  });

  it('cannot authenticate an EventSource (it sends no Authorization), but a fetch-read stream with the key runs the chat', async () => {
    const page = await browser.newPage();
    await page.goto(gateway.url.replace(/\/graphql$/, '/'));
    const seen = await page.evaluate(
      async ({ url, query, key }) => {
        // Refused with 401 before anything runs: EventSource fails and does not reconnect.
        const source = new EventSource(`${url}?query=${encodeURIComponent(query)}`);
        await new Promise<void>((resolve) => source.addEventListener('error', () => resolve()));
        const eventSourceClosed = source.readyState === EventSource.CLOSED;
        source.close();
        // What graphql-sse's client does in a browser: the same GET, read with fetch, the key in a header.
        const response = await fetch(`${url}?query=${encodeURIComponent(query)}`, {
          headers: { accept: 'text/event-stream', authorization: `Bearer ${key}` },
        });
        const text = await response.text();
        return { eventSourceClosed, status: response.status, text };
      },
      { url: gateway.url, query: CHAT, key: KEY },
    );
    expect(seen.eventSourceClosed).toBe(true);
    expect(seen.status).toBe(200);
    expect(seen.text.match(/"__typename":"ChatRoute"/g)).toHaveLength(1);
    expect(seen.text).toContain('"__typename":"ChatDone"');
    expect(seen.text).toContain('event: complete');
    // One chat: the fetch's, none for the refused EventSource.
    const armsResponse = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ query: '{ arms { pulls } }' }),
    });
    const { data } = (await armsResponse.json()) as { data: { arms: Array<{ pulls: number }> } };
    expect(data.arms.reduce((sum, arm) => sum + arm.pulls, 0)).toBe(1);
    await page.close();
  });
});
