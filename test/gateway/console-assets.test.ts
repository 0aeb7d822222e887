import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createConsoleAssets } from '../../src/server/console-assets.js';
import { startGateway, testConfigInput } from '../helpers/gateway.js';

/** How the gateway serves the console's files: the page, its assets, and what it says when they are missing. */

async function serve(dir: string, graphqlPath = '/graphql'): Promise<{ url: string; server: Server }> {
  const handle = createConsoleAssets({ graphqlPath, dir });
  const server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(418).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('console assets', () => {
  const dirs: string[] = [];
  const servers: Server[] = [];
  const folder = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-console-'));
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    dirs.push(dir);
    return dir;
  };
  afterAll(() => {
    servers.forEach((s) => s.close());
    dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  });

  it('serves the page with the GraphQL path filled in, its assets, conditional requests and HEAD', async () => {
    const { url, server } = await serve(folder({ 'index.html': '<meta content="%GRAPHQL_PATH%">', 'app.js': 'export {}', 'notes.exe': 'x' }), '/api/"graphql"');
    servers.push(server);
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toBe('<meta content="/api/&#34;graphql&#34;">');
    const script = await fetch(`${url}/console/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const etag = script.headers.get('etag')!;
    expect((await fetch(`${url}/console/app.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const head = await fetch(`${url}/console/app.js`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '9']);
    expect((await fetch(`${url}/console/notes.exe`)).status).toBe(404);
    expect((await fetch(`${url}/console/../package.json`)).status).not.toBe(200);
    expect((await fetch(`${url}/`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${url}/graphql`)).status).toBe(418);
  });

  it('says how to build the console when it is not built', async () => {
    const { url, server } = await serve(folder({}));
    servers.push(server);
    const response = await fetch(`${url}/`);
    expect(response.status).toBe(503);
    expect(await response.text()).toMatch(/npm run build:console/);
  });

  it('is not served with server.console false', async () => {
    const gateway = await startGateway({ config: testConfigInput({ server: { console: false } }) });
    try {
      expect((await fetch(gateway.url.replace(/graphql$/, ''))).status).toBe(404);
      expect((await fetch(gateway.url.replace(/graphql$/, 'console/app.js'))).status).toBe(404);
    } finally {
      await gateway.close();
    }
  });
});
