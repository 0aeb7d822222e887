import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfigInput, type RunningGateway } from '../helpers/gateway.js';
import { overWebSocket } from '../helpers/raw-operations.js';

/**
 * Issue 14, "cross-origin browser": before, every answer echoed any Origin with
 * `Access-Control-Allow-Credentials: true`, and WebSocket upgrades from any Origin were accepted,
 * so any web page a user visited could drive a gateway on their machine or network. Now CORS is off
 * unless `server.corsOrigins` lists the page's origin, the same rule holds for WebSocket upgrades,
 * and a refused origin runs nothing (a form POST is a "simple" request the browser sends anyway).
 */

const EVIL = 'http://evil.example';
const APP = 'http://app.example:8080';

const query = JSON.stringify({ query: '{ __typename }' });
const post = (gateway: RunningGateway, origin?: string) =>
  fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(origin ? { origin } : {}) },
    body: query,
  });
const preflight = (gateway: RunningGateway, origin: string) =>
  fetch(gateway.url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
  });
const ownOrigin = (gateway: RunningGateway) => new URL(gateway.url).origin;

describe('with no origins configured (the default)', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway();
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('refuses a request from another origin with 403 and a code, and sends no CORS headers', async () => {
    const response = await post(gateway, EVIL);
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors[0]!.extensions.code).toBe('FORBIDDEN');
    expect(body.errors[0]!.message).toMatch(/server\.corsOrigins/);
  });

  it('refuses a preflight and a form POST from another origin', async () => {
    const options = await preflight(gateway, EVIL);
    expect(options.status).toBe(403);
    expect(options.headers.get('access-control-allow-origin')).toBeNull();
    // A form POST needs no preflight: it must be refused before anything runs.
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: 'mutation { setShadowRate(rate: 0) { rate } }' }));
    form.set('map', '{}');
    const response = await fetch(gateway.url, { method: 'POST', headers: { origin: EVIL }, body: form });
    expect(response.status).toBe(403);
    const shadow = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ shadow { rate } }' }) });
    expect(((await shadow.json()) as { data: { shadow: { rate: number } } }).data.shadow.rate).toBe(gateway.config.shadow.rate);
  });

  it('refuses /v1 from another origin in the OpenAI error shape', async () => {
    const response = await fetch(gateway.url.replace('/graphql', '/v1/models'), { headers: { origin: EVIL } });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
  });

  it('serves callers without an Origin and pages of its own origin', async () => {
    expect((await post(gateway)).status).toBe(200);
    const own = await post(gateway, ownOrigin(gateway));
    expect(own.status).toBe(200);
    expect(own.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('refuses a WebSocket upgrade from another origin, accepts its own and none', async () => {
    const evil = await overWebSocket(gateway.wsUrl, { query: '{ __typename }' }, { headers: { origin: EVIL } });
    expect(evil.opened).toBe(false);
    expect(evil.status).toBe(403);
    for (const headers of [{ origin: ownOrigin(gateway) }, {}] as Array<Record<string, string>>) {
      const outcome = await overWebSocket(gateway.wsUrl, { query: '{ __typename }' }, { headers });
      expect(outcome.opened).toBe(true);
      expect(outcome.results).toEqual([{ data: { __typename: 'Query' } }]);
    }
  });
});

describe('with server.corsOrigins', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ config: testConfigInput({ server: { corsOrigins: [APP] } }) });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('gives a listed origin CORS headers without credentials, and answers its preflight', async () => {
    const response = await post(gateway, APP);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(APP);
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    const options = await preflight(gateway, APP);
    expect(options.status).toBe(204);
    expect(options.headers.get('access-control-allow-origin')).toBe(APP);
    expect(options.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(options.headers.get('access-control-allow-headers')).toMatch(/authorization/);
  });

  it('opens WebSockets for the listed origin and still refuses others', async () => {
    expect((await overWebSocket(gateway.wsUrl, { query: '{ __typename }' }, { headers: { origin: APP } })).opened).toBe(true);
    expect((await overWebSocket(gateway.wsUrl, { query: '{ __typename }' }, { headers: { origin: EVIL } })).status).toBe(403);
    expect((await post(gateway, EVIL)).status).toBe(403);
  });
});
