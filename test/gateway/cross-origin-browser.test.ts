import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, runBrowserTests, type Browser } from '../helpers/browser.js';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';

/**
 * A web app on another origin, listed in `server.corsOrigins`, driving the gateway from Chromium
 * with real client libraries: what the browser's CORS checks let through is what such an app gets.
 * graphql-sse's single-connection mode reserves its stream with PUT and ends operations with
 * DELETE; the OpenAI SDK reads the request id from `x-request-id`.
 */

/** The libraries as one script for the page: graphql-sse's client and the openai SDK. */
async function clientBundle(): Promise<string> {
  const result = await build({
    stdin: {
      contents: `import { createClient } from 'graphql-sse'; import OpenAI from 'openai'; Object.assign(window, { createSseClient: createClient, OpenAI });`,
      resolveDir: process.cwd(),
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

describe.skipIf(!runBrowserTests)('a page of a listed origin in Chromium', { timeout: 60_000 }, () => {
  let app: Server;
  let appOrigin: string;
  let gateway: RunningGateway;
  let browser: Browser;

  beforeAll(async () => {
    const script = await clientBundle();
    app = createServer((req, res) => {
      if (req.url === '/clients.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        return void res.end(script);
      }
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>app</title><script src="/clients.js"></script>');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    gateway = await startGateway({ config: testConfigInput({ server: { corsOrigins: [appOrigin] } }) });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await gateway?.close();
    await new Promise((resolve) => app?.close(resolve));
  });

  it('streams chats over graphql-sse single-connection mode, and completes one early', async () => {
    const page = await browser.newPage();
    await page.goto(`${appOrigin}/`);
    const outcome = await page.evaluate(async (url) => {
      const { createSseClient } = window as unknown as { createSseClient: typeof import('graphql-sse').createClient };
      const client = createSseClient({ url, singleConnection: true, retryAttempts: 0 });
      const query = 'subscription ($text: String!) { chat(input: { messages: [{ role: USER, content: $text }], cache: false }) { __typename } }';
      try {
        const whole: string[] = [];
        for await (const result of client.iterate({ query, variables: { text: 'from a page of another origin' } })) {
          if (result.errors) return { errors: result.errors };
          whole.push((result.data as { chat: { __typename: string } }).chat.__typename);
        }
        // Leaving after the route: the client DELETEs the operation on the shared stream.
        const early = client.iterate({ query, variables: { text: 'left after its route' } });
        const first = await early.next();
        await early.return?.(undefined);
        const after: string[] = [];
        for await (const result of client.iterate({ query: '{ __typename }' })) after.push(JSON.stringify(result));
        return { whole, first: (first.value as { data: { chat: { __typename: string } } }).data.chat.__typename, after };
      } catch (error) {
        return { thrown: String(error) };
      } finally {
        client.dispose();
      }
    }, gateway.url);
    expect(outcome).toMatchObject({ first: 'ChatRoute', after: [JSON.stringify({ data: { __typename: 'Query' } })] });
    const { whole } = outcome as { whole: string[] };
    expect(whole[0]).toBe('ChatRoute');
    expect(whole.at(-1)).toBe('ChatDone');
    await page.close();
  });

  it('gets whole and streamed completions from the openai SDK, with the request id it reads from the headers', async () => {
    const page = await browser.newPage();
    await page.goto(`${appOrigin}/`);
    const outcome = await page.evaluate(async (baseURL) => {
      const { OpenAI } = window as unknown as { OpenAI: typeof import('openai').default };
      const openai = new OpenAI({ baseURL, apiKey: 'unused', dangerouslyAllowBrowser: true, maxRetries: 0 });
      try {
        const completion = await openai.chat.completions.create({ model: 'switchyard/auto', messages: [{ role: 'user', content: 'Hi from a page' }] });
        const stream = await openai.chat.completions.create({ model: 'switchyard/auto', messages: [{ role: 'user', content: 'Stream to a page' }], stream: true });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        return { id: completion.id, requestId: completion._request_id, content: completion.choices[0]!.message.content, text };
      } catch (error) {
        return { thrown: String(error) };
      }
    }, gateway.url.replace(/\/graphql$/, '/v1'));
    expect(outcome).not.toHaveProperty('thrown');
    const { id, requestId, content, text } = outcome as { id: string; requestId: string; content: string; text: string };
    expect(requestId).toBe(id);
    expect(content.length).toBeGreaterThan(0);
    expect(text.length).toBeGreaterThan(0);
    await page.close();
  });
});
